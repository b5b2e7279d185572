/*
 * pf_gentool.c - trace generation from the synthetic source, as the CLI and
 * the HTTP route will do it, for end-to-end checks (run_gen_checks.py).
 *
 *   pf_gentool (--out TRACE | --frames STREAM) [--expect JSON]
 *              [--threads N] [--spans N] [--async N] [--seed N] [--batch N]
 *              [--jobs N] [--queue N] [--lookahead N] [--chunk BYTES]
 *              [--kinds thread|async|both] [--mode abs|incr]
 *              [--range BEGIN END]      (ns after the synthetic base time)
 *              [--fail-thread K] [--fail-after ROWS] [--delay-us N]
 *              [--async-delay-us N]
 *              [--filter-range] [--unknown-process]
 *   pf_gentool --validate STREAM [--trace-out TRACE]
 *
 * --out writes the plain trace (what `streamlake trace` will write);
 * --frames writes the frame stream (what the HTTP route will send), with
 * progress frames.  --expect writes what pfcheck.py should find: the process,
 * each thread's tid, name and slice count over the range.  The summary is
 * printed as JSON on stdout.  Exit: 0 ok, 1 generation failed, 2 usage,
 * 3 unknown process (the route's 404).
 *
 * --validate decodes a frame stream with the C reader (pf_frames_validate)
 * and prints its verdict: exit 0 (summary), 1 (error frame), 2 (malformed),
 * the same convention as pfframes.py, so the two can be compared.
 */
#include "base/alloc.h"
#include "base/json.h"
#include "perfetto/pf_frames.h"
#include "perfetto/pf_synth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct opts {
    const char *out, *frames, *expect, *validate, *trace_out;
    pf_synth_cfg sc;
    pf_gen_cfg gc;
    int has_range;
    int64_t rel_b, rel_e;
} opts;

static int usage(void)
{
    fprintf(stderr, "usage: pf_gentool (--out TRACE | --frames STREAM) [--expect JSON] "
                    "[options]\n       pf_gentool --validate STREAM [--trace-out TRACE]\n");
    return 2;
}

static int parse(int argc, char **argv, opts *o)
{
    memset(o, 0, sizeof *o);
    pf_synth_cfg_init(&o->sc);
    pf_gen_cfg_init(&o->gc);
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int flag = 1;
        if (!strcmp(k, "--filter-range"))
            o->sc.filter_range = 1;
        else if (!strcmp(k, "--unknown-process"))
            o->sc.unknown_process = 1;
        else
            flag = 0;
        if (flag)
            continue;
        if (!v)
            return -1;
        i++;
        if (!strcmp(k, "--out"))
            o->out = v;
        else if (!strcmp(k, "--frames"))
            o->frames = v;
        else if (!strcmp(k, "--expect"))
            o->expect = v;
        else if (!strcmp(k, "--validate"))
            o->validate = v;
        else if (!strcmp(k, "--trace-out"))
            o->trace_out = v;
        else if (!strcmp(k, "--threads"))
            o->sc.threads = (uint32_t)atoi(v);
        else if (!strcmp(k, "--spans"))
            o->sc.spans_per_thread = strtoull(v, NULL, 10);
        else if (!strcmp(k, "--async"))
            o->sc.async_spans = strtoull(v, NULL, 10);
        else if (!strcmp(k, "--seed"))
            o->sc.seed = strtoull(v, NULL, 10);
        else if (!strcmp(k, "--batch"))
            o->sc.batch_rows = (uint32_t)atoi(v);
        else if (!strcmp(k, "--fail-thread"))
            o->sc.fail_thread = atoi(v);
        else if (!strcmp(k, "--fail-after"))
            o->sc.fail_after_rows = strtoull(v, NULL, 10);
        else if (!strcmp(k, "--delay-us"))
            o->sc.delay_us = (uint32_t)atoi(v);
        else if (!strcmp(k, "--async-delay-us"))
            o->sc.async_delay_us = (uint32_t)atoi(v);
        else if (!strcmp(k, "--jobs"))
            o->gc.jobs = (unsigned)atoi(v);
        else if (!strcmp(k, "--queue"))
            o->gc.queue_chunks = (unsigned)atoi(v);
        else if (!strcmp(k, "--lookahead"))
            o->gc.lookahead = (unsigned)atoi(v);
        else if (!strcmp(k, "--chunk"))
            o->gc.chunk_bytes = strtoull(v, NULL, 10);
        else if (!strcmp(k, "--mode"))
            o->gc.ts_mode = !strcmp(v, "abs") ? PF_TS_ABSOLUTE : PF_TS_INCREMENTAL;
        else if (!strcmp(k, "--kinds")) {
            if (pf_gen_kinds_parse(v, &o->gc.kinds))
                return -1;
        }
        else if (!strcmp(k, "--range") && i + 1 < argc) {
            o->has_range = 1;
            o->rel_b = strtoll(v, NULL, 10);
            o->rel_e = strtoll(argv[++i], NULL, 10);
        } else
            return -1;
    }
    if (o->validate)
        return 0;
    return (o->out != NULL) != (o->frames != NULL) ? 0 : -1;
}

static int validate(const opts *o)
{
    FILE *f = fopen(o->validate, "rb");
    if (!f) {
        perror(o->validate);
        return 2;
    }
    dbuf in, trace;
    dbuf_init(&in, (size_t)1 << 31);
    dbuf_init(&trace, (size_t)1 << 31);
    uint8_t buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        if (dbuf_append(&in, buf, n))
            break;
    fclose(f);
    errmsg e;
    uint8_t final = 0;
    int rc = pf_frames_validate(in.p, in.len, &trace, &final, &e);
    int status = rc ? 2 : final == PF_FRAME_ERROR ? 1 : 0;
    printf("%s\n", rc ? errmsg_str(&e) : final == PF_FRAME_ERROR ? "error frame" : "ok");
    if (!rc && o->trace_out) {
        FILE *t = fopen(o->trace_out, "wb");
        if (!t || fwrite(trace.p, 1, trace.len, t) != trace.len)
            status = 2;
        if (t)
            fclose(t);
    }
    dbuf_free(&in);
    dbuf_free(&trace);
    return status;
}

static int write_expect(const opts *o, pf_synth *s)
{
    dbuf b;
    dbuf_init(&b, (size_t)1 << 26);
    jw w;
    jw_init(&w, &b);
    jw_obj_begin(&w);
    jw_key(&w, "process");
    jw_obj_begin(&w);
    jw_key(&w, "pid");
    jw_int(&w, s->cfg.pid);
    jw_key(&w, "name");
    jw_str(&w, "synth-process");
    jw_obj_end(&w);
    jw_key(&w, "threads");
    jw_arr_begin(&w);
    int64_t rb = o->gc.has_begin ? o->gc.begin_ns : INT64_MIN;
    int64_t re = o->gc.has_end ? o->gc.end_ns : INT64_MAX;
    for (uint32_t i = 0; i < s->cfg.threads && (o->gc.kinds & PF_KIND_THREAD); i++) {
        jw_obj_begin(&w);
        jw_key(&w, "tid");
        jw_int(&w, s->threads[i].tid);
        jw_key(&w, "name");
        jw_str(&w, s->threads[i].name);
        jw_key(&w, "pid");
        jw_int(&w, s->cfg.pid);
        if ((int)i != s->cfg.fail_thread) {
            jw_key(&w, "slices");
            jw_uint(&w, pf_synth_thread_count(s, i, rb, re));
        }
        jw_obj_end(&w);
    }
    jw_arr_end(&w);
    jw_obj_end(&w);
    FILE *f = w.err ? NULL : fopen(o->expect, "w");
    int rc = f && fwrite(b.p, 1, b.len, f) == b.len ? 0 : -1;
    if (f)
        fclose(f);
    dbuf_free(&b);
    return rc;
}

int main(int argc, char **argv)
{
    opts o;
    if (parse(argc, argv, &o))
        return usage();
    if (o.validate)
        return validate(&o);
    pf_synth s;
    errmsg e;
    if (pf_synth_init(&s, &o.sc, &e)) {
        fprintf(stderr, "pf_gentool: %s\n", e.text);
        return 2;
    }
    if (o.has_range) {
        o.gc.has_begin = o.gc.has_end = 1;
        o.gc.begin_ns = s.cfg.base_ns + o.rel_b;
        o.gc.end_ns = s.cfg.base_ns + o.rel_e;
    }
    const char *path = o.out ? o.out : o.frames;
    pf_file_sink fs;
    pf_frame_writer fw;
    int status = 0;
    pf_gen *g = NULL;
    if (o.frames) {
        o.gc.progress = pf_frame_writer_progress;
        o.gc.progress_ctx = &fw;
    }
    int rc = pf_gen_open(&g, &o.gc, pf_synth_source(&s), &e);
    if (rc) {
        /* Nothing written: the route answers 404 / 500 with this message. */
        fprintf(stderr, "pf_gentool: %s\n", errmsg_str(&e));
        pf_synth_free(&s);
        return rc == SL_ENOTFOUND ? 3 : 1;
    }
    if (pf_file_sink_open(&fs, path, &e)) {
        fprintf(stderr, "pf_gentool: %s\n", e.text);
        pf_gen_close(g);
        pf_synth_free(&s);
        return 1;
    }
    if (o.frames) {
        pf_frame_writer_init(&fw, pf_file_sink_get(&fs));
        rc = pf_frames_run(g, &fw);
        pf_frame_writer_free(&fw);
    } else {
        rc = pf_gen_run(g, pf_file_sink_get(&fs));
    }
    if (rc) {
        fprintf(stderr, "pf_gentool: %s\n", pf_gen_error(g));
        status = 1;
    }
    dbuf js;
    dbuf_init(&js, 1 << 20);
    if (pf_gen_summary_json(pf_gen_get_summary(g), &js) == 0)
        printf("%s\n", (char *)js.p);
    dbuf_free(&js);
    pf_gen_close(g);
    fprintf(stderr, "pf_gentool: prepared %llu threads ahead\n",
            (unsigned long long)atomic_load(&s.prepared));
    if (pf_file_sink_close(&fs))
        status = 1;
    if (o.expect && write_expect(&o, &s))
        status = 1;
    pf_synth_free(&s);
    return status;
}
