// test_cpp.cpp - the tracing header compiles as C++ and its scope guards work,
// linked against the packaged static library (only the public API is global).
#define SL_TARGET "cpp"
#include "streamlake/trace.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

static int work(int n)
{
    SL_SPAN_FN();
    int s = 0;
    for (int i = 0; i < n; i++) {
        SL_SPAN("inner");
        std::string name = "item-" + std::to_string(i % 3);
        SL_NAMED_SPAN("item", name.c_str());
        s += i;
    }
    return s;
}

int main()
{
    char dir[128];
    std::snprintf(dir, sizeof dir, "/tmp/sl-test-cpp-%d", (int)getpid());
    sl_config cfg = {};
    cfg.directory = dir;
    if (sl_init(&cfg) != 0)
        return 1;
    int s = work(100);
    SL_LOGF(SL_INFO, "sum %d", s);
    SL_METRIC_I("sum", "", s);
    sl_async_span a = SL_ASYNC_BEGIN("async", nullptr);
    sl_async_end(&a);
    sl_shutdown();
    sl_stats st;
    sl_stats_get(&st);
    // 1 function span + 100 x (inner + item) spans, begin and end; log, metric, async pair.
    unsigned long long expect = 2 * (1 + 200) + 1 + 1 + 2;
    std::printf("delivered %llu of %llu, dropped %llu\n",
                (unsigned long long)st.events_delivered, expect,
                (unsigned long long)st.events_dropped);
    std::string cmd = std::string("rm -rf ") + dir;
    if (std::system(cmd.c_str()) != 0)
        return 1;
    bool ok = st.events_delivered == expect && st.events_dropped == 0;
    std::printf("%d passed, %d failed\n", ok ? 1 : 0, ok ? 0 : 1);
    return ok ? 0 : 1;
}
