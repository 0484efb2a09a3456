/*
 * fleet_js.c - the fleet controller's side in the fleet tests, on
 * libnats.
 *
 *   fleet_js count SERVERS STREAM
 *       prints the stream's message count (0 when it does not exist yet)
 *   fleet_js dump SERVERS STREAM
 *       prints every message of the stream, oldest first, one line each:
 *       STREAM_SEQ SUBJECT SEQ_HEADER PUBLISHER_HEADER
 *   fleet_js cmd SERVERS SUBJECT PAYLOAD MSG_ID TIMES
 *       a command for a host, the way a fleet controller sends it:
 *       published to JetStream (the host's stream stores it) with the
 *       message id MSG_ID, each publish retried until JetStream
 *       acknowledged it (30 s at most); TIMES publishes of the same
 *       command (a controller retrying) print one line each,
 *       "stored SEQ" or "duplicate SEQ"
 *
 * SERVERS is a comma list of nats:// or tls:// URLs. The environment
 * gives TLS and credentials like hvrpc-bridge's options: FLEET_TLS_CA,
 * FLEET_TLS_CERT with FLEET_TLS_KEY, FLEET_USER_FILE (USER:PASSWORD).
 * Exit 0 on success, 1 on a NATS error (printed), 2 on bad arguments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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
    const char *ca = getenv("FLEET_TLS_CA"), *cert = getenv("FLEET_TLS_CERT");
    const char *key = getenv("FLEET_TLS_KEY"),
               *user = getenv("FLEET_USER_FILE");

    s = natsOptions_Create(&o);
    if (s == NATS_OK)
        s = natsOptions_SetServers(o, list, n);
    if (s == NATS_OK && ca)
        s = natsOptions_SetSecure(o, true);
    if (s == NATS_OK && ca)
        s = natsOptions_LoadCATrustedCertificates(o, ca);
    if (s == NATS_OK && cert && key)
        s = natsOptions_LoadCertificatesChain(o, cert, key);
    if (s == NATS_OK && user) {
        char line[256] = "", *colon;
        FILE *f = fopen(user, "r");
        if (f && fgets(line, sizeof line, f) == NULL)
            line[0] = '\0';
        if (f)
            fclose(f);
        line[strcspn(line, "\r\n")] = '\0';
        colon = strchr(line, ':');
        if (colon == NULL) {
            s = NATS_INVALID_ARG;
        } else {
            *colon = '\0';
            s = natsOptions_SetUserInfo(o, line, colon + 1);
        }
    }
    if (s == NATS_OK)
        s = natsOptions_SetTimeout(o, 2000);
    if (s == NATS_OK)
        s = natsConnection_Connect(nc, o);
    natsOptions_Destroy(o);
    return s;
}

/* Publishes one command until JetStream acknowledges it. */
static int command(jsCtx *js, const char *subject, const char *payload,
                   const char *msg_id)
{
    time_t give_up = time(NULL) + 30;
    jsPubOptions po;

    jsPubOptions_Init(&po);
    po.MsgId = msg_id;
    po.MaxWait = 2000;
    for (;;) {
        jsPubAck *ack = NULL;
        jsErrCode jerr = 0;
        natsStatus s = js_Publish(&ack, js, subject, payload,
                                  (int)strlen(payload), &po, &jerr);
        if (s == NATS_OK) {
            printf("%s %llu\n", ack->Duplicate ? "duplicate" : "stored",
                   (unsigned long long)ack->Sequence);
            jsPubAck_Destroy(ack);
            return 0;
        }
        /* No stream yet (the host's bridge creates it), a leader
         * election: try again, same id. */
        if (time(NULL) > give_up)
            return fail("publish", s);
        usleep(200 * 1000);
    }
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
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 5000;
    s = natsConnection_JetStream(&js, nc, &jo);
    if (s != NATS_OK) {
        rc = fail("JetStream", s);
    } else if (strcmp(argv[1], "cmd") == 0 && argc == 7) {
        int times = atoi(argv[6]);
        rc = 0;
        for (int i = 0; i < times && rc == 0; i++)
            rc = command(js, argv[3], argv[4], argv[5]);
    } else if ((strcmp(argv[1], "dump") == 0 ||
                strcmp(argv[1], "count") == 0) &&
               argc == 4) {
        rc = dump(js, argv[3], strcmp(argv[1], "count") == 0);
    } else {
        rc = 2;
    }
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    nats_CloseAndWait(2000);
    return rc;
}
