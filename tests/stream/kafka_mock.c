/*
 * kafka_mock.c - a Kafka cluster for the kafka connector's tests: librdkafka's
 * mock cluster (a real Kafka protocol endpoint on 127.0.0.1), and a producer
 * and a reader of it, so the tests need no Kafka installation.
 *
 *   kafka_mock serve TOPIC:PARTITIONS...   starts a one-broker cluster with
 *                 the topics, prints its bootstrap address on a line, and
 *                 runs until its standard input closes
 *   kafka_mock produce BOOTSTRAP TOPIC     each input line "P<TAB>VALUE" a
 *                 message to partition P (-1: the partitioner's choice);
 *                 exits 1 unless every one was delivered
 *   kafka_mock consume BOOTSTRAP TOPIC     every message of every partition,
 *                 up to its high watermark, as "P<TAB>OFFSET<TAB>KEY<TAB>VALUE"
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int g_failed;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err) {
        fprintf(stderr, "kafka_mock: delivery failed: %s\n", rd_kafka_err2str(m->err));
        g_failed++;
    }
}

static rd_kafka_t *handle(rd_kafka_type_t type, const char *servers)
{
    char err[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (servers && rd_kafka_conf_set(c, "bootstrap.servers", servers, err, sizeof err)) {
        fprintf(stderr, "kafka_mock: %s\n", err);
        exit(2);
    }
    if (type == RD_KAFKA_PRODUCER)
        rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
    rd_kafka_t *rk = rd_kafka_new(type, c, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "kafka_mock: %s\n", err);
        exit(2);
    }
    return rk;
}

static int serve(int argc, char **argv)
{
    rd_kafka_t *rk = handle(RD_KAFKA_PRODUCER, NULL);
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, 1);
    if (!mc) {
        fprintf(stderr, "kafka_mock: could not start the mock cluster\n");
        return 2;
    }
    for (int i = 0; i < argc; i++) {
        char *colon = strchr(argv[i], ':');
        int parts = colon ? atoi(colon + 1) : 1;
        if (colon)
            *colon = 0;
        if (rd_kafka_mock_topic_create(mc, argv[i], parts, 1)) {
            fprintf(stderr, "kafka_mock: could not create topic %s\n", argv[i]);
            return 2;
        }
    }
    printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);
    char buf[256];
    while (fgets(buf, sizeof buf, stdin))
        ;
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}

static int produce(const char *servers, const char *topic)
{
    rd_kafka_t *rk = handle(RD_KAFKA_PRODUCER, servers);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    static char line[1 << 20];
    while (fgets(line, sizeof line, stdin)) {
        size_t n = strlen(line);
        if (n && line[n - 1] == '\n')
            line[--n] = 0;
        char *tab = strchr(line, '\t');
        if (!tab)
            continue;
        *tab = 0;
        int p = atoi(line);
        while (rd_kafka_produce(rkt, p, RD_KAFKA_MSG_F_COPY, tab + 1, strlen(tab + 1), NULL, 0,
                                NULL)) {
            if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                fprintf(stderr, "kafka_mock: %s\n", rd_kafka_err2str(rd_kafka_last_error()));
                return 1;
            }
            rd_kafka_poll(rk, 100);
        }
        rd_kafka_poll(rk, 0);
    }
    rd_kafka_resp_err_t err = rd_kafka_flush(rk, 30000);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    if (err)
        fprintf(stderr, "kafka_mock: flush: %s\n", rd_kafka_err2str(err));
    return err || g_failed ? 1 : 0;
}

static void field(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        putchar(p[i] == '\t' || p[i] == '\n' ? ' ' : p[i]);
}

static int consume(const char *servers, const char *topic)
{
    rd_kafka_t *rk = handle(RD_KAFKA_CONSUMER, servers);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md;
    if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) || md->topic_cnt != 1 ||
        md->topics[0].err) {
        fprintf(stderr, "kafka_mock: no topic %s\n", topic);
        return 1;
    }
    int nparts = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    for (int p = 0; p < nparts; p++) {
        int64_t lo, hi;
        if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000))
            return 1;
        if (hi <= lo)
            continue;
        rd_kafka_consume_start(rkt, p, lo);
        for (int64_t at = lo; at < hi;) {
            rd_kafka_message_t *m = rd_kafka_consume(rkt, p, 10000);
            if (!m) {
                fprintf(stderr, "kafka_mock: partition %d: nothing at offset %lld\n", p,
                        (long long)at);
                return 1;
            }
            if (!m->err) {
                printf("%d\t%lld\t", p, (long long)m->offset);
                field(m->key ? m->key : "", m->key_len);
                putchar('\t');
                field(m->payload ? m->payload : "", m->len);
                putchar('\n');
                at = m->offset + 1;
            }
            rd_kafka_message_destroy(m);
        }
        rd_kafka_consume_stop(rkt, p);
    }
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "serve"))
        return serve(argc - 2, argv + 2);
    if (argc == 4 && !strcmp(argv[1], "produce"))
        return produce(argv[2], argv[3]);
    if (argc == 4 && !strcmp(argv[1], "consume"))
        return consume(argv[2], argv[3]);
    fprintf(stderr, "usage: kafka_mock serve TOPIC:PARTITIONS... | produce BOOTSTRAP TOPIC | "
                    "consume BOOTSTRAP TOPIC\n");
    return 2;
}
