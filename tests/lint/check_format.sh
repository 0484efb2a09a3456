#!/usr/bin/env bash
# check_format.sh SOURCE_DIR: every C file of the project follows
# .clang-format. Lists the files that do not; fix them with clang-format -i.
set -u
cd "${1:?usage: $0 SOURCE_DIR}" || exit 2
command -v clang-format >/dev/null || { echo "SKIPPED: clang-format not installed"; exit 77; }
bad=0
while IFS= read -r f; do
    if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
        echo "not formatted: $f"
        bad=1
    fi
done < <(git ls-files -co --exclude-standard '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build*')
[ $bad -eq 0 ] && echo "all C files formatted"
exit $bad
