/* Logging: one fprintf per message so lines from threads do not interleave. */
#include "tm_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int g_level = -1;

void tm_log_set_level(enum tm_log_level level)
{
    g_level = (int)level;
}

static int current_level(void)
{
    if (g_level >= 0)
        return g_level;
    const char *env = getenv("TIDEMARK_LOG");
    g_level = TM_LOG_INFO;
    if (env && strcmp(env, "debug") == 0)
        g_level = TM_LOG_DEBUG;
    else if (env && strcmp(env, "warn") == 0)
        g_level = TM_LOG_WARN;
    else if (env && strcmp(env, "error") == 0)
        g_level = TM_LOG_ERROR;
    return g_level;
}

void tm_log(enum tm_log_level level, const char *module, const char *fmt, ...)
{
    static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    if ((int)level < current_level())
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tmv;
    gmtime_r(&ts.tv_sec, &tmv);
    fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s [%s] %s\n", tmv.tm_year + 1900,
            tmv.tm_mon + 1, tmv.tm_mday, tmv.tm_hour, tmv.tm_min, tmv.tm_sec, ts.tv_nsec / 1000000,
            names[level], module, msg);
}
