/*
 * fleet_js.c - the fleet controller's side in the fleet tests, on
 * libnats.
 *
 *   fleet_js count SERVERS STREAM
 *       prints the stream's message count (0 when it does not exist yet)
 *   fleet_js dump SERVERS STREAM
 *       prints every message of the stream, oldest first, one line each:
 *       STREAM_SEQ SUBJECT SEQ_HEADER PUBLISHER_HEADER
 *   fleet_js cmd SERVERS SUBJECT PAYLOAD EVERY_MS TIMES
 *       publishes PAYLOAD to SUBJECT TIMES times, EVERY_MS apart (a
 *       command for a host: at most once each, so the test repeats it)
 *
 * SERVERS is a comma list of nats:// URLs. Exit 0 on success, 1 on a
 * NATS error (printed), 2 on bad arguments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nats/nats.h>

static int fail(const char *what, natsStatus s)
{
    fprintf(stderr, "fleet_js: %s: %s (%s)\n", what, natsStatus_GetText(s),
            nats_GetLastError(NULL));
    return 1;
}

static natsStatus connect_servers(char *servers, natsConnection **nc)
{
    const char *list[8];
    int n = 0;
    natsOptions *o = NULL;
    natsStatus s;

    for (char *t = strtok(servers, ","); t && n < 8; t = strtok(NULL, ","))
        list[n++] = t;
    s = natsOptions_Create(&o);
    if (s == NATS_OK)
        s = natsOptions_SetServers(o, list, n);
    if (s == NATS_OK)
        s = natsOptions_SetTimeout(o, 2000);
    if (s == NATS_OK)
        s = natsConnection_Connect(nc, o);
    natsOptions_Destroy(o);
    return s;
}

static int dump(jsCtx *js, const char *stream, bool count_only)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetStreamInfo(&si, js, stream, NULL, &jerr);

    if (s == NATS_NOT_FOUND) {
        if (count_only)
            printf("0\n");
        return count_only ? 0 : fail("stream info", s);
    }
    if (s != NATS_OK)
        return fail("stream info", s);
    if (count_only) {
        printf("%llu\n", (unsigned long long)si->State.Msgs);
        jsStreamInfo_Destroy(si);
        return 0;
    }
    uint64_t first = si->State.FirstSeq, last = si->State.LastSeq;
    jsStreamInfo_Destroy(si);
    for (uint64_t seq = first; seq != 0 && seq <= last; seq++) {
        natsMsg *m = NULL;
        const char *hseq = "-", *pub = "-";

        s = js_GetMsg(&m, js, stream, seq, NULL, &jerr);
        if (s == NATS_NOT_FOUND)
            continue;
        if (s != NATS_OK)
            return fail("get message", s);
        natsMsgHeader_Get(m, "seq", &hseq);
        natsMsgHeader_Get(m, "Hvrpc-Publisher", &pub);
        printf("%llu %s %s %s\n", (unsigned long long)seq,
               natsMsg_GetSubject(m), hseq, pub);
        natsMsg_Destroy(m);
    }
    return 0;
}

int main(int argc, char **argv)
{
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    natsStatus s;
    int rc;

    if (argc < 4)
        return 2;
    s = connect_servers(argv[2], &nc);
    if (s != NATS_OK)
        return fail("connect", s);
    if (strcmp(argv[1], "cmd") == 0 && argc == 7) {
        int every = atoi(argv[5]), times = atoi(argv[6]);
        rc = 0;
        for (int i = 0; i < times && rc == 0; i++) {
            s = natsConnection_PublishString(nc, argv[3], argv[4]);
            if (s == NATS_OK)
                s = natsConnection_FlushTimeout(nc, 2000);
            if (s != NATS_OK)
                rc = fail("publish", s);
            usleep((useconds_t)every * 1000);
        }
    } else if ((strcmp(argv[1], "dump") == 0 ||
                strcmp(argv[1], "count") == 0) &&
               argc == 4) {
        jsOptions jo;
        jsOptions_Init(&jo);
        jo.Wait = 5000;
        s = natsConnection_JetStream(&js, nc, &jo);
        rc = s == NATS_OK ? dump(js, argv[3], strcmp(argv[1], "count") == 0)
                          : fail("JetStream", s);
    } else {
        rc = 2;
    }
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    nats_CloseAndWait(2000);
    return rc;
}
