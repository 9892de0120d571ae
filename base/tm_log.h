/* Logging to stderr with a timestamp, a level and the emitting module. */
#ifndef TM_LOG_H
#define TM_LOG_H

enum tm_log_level { TM_LOG_DEBUG, TM_LOG_INFO, TM_LOG_WARN, TM_LOG_ERROR };

/* Messages below this level are dropped. Default TM_LOG_INFO; the
 * environment variable TIDEMARK_LOG=debug|info|warn|error overrides it. */
void tm_log_set_level(enum tm_log_level level);

void tm_log(enum tm_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define TM_DEBUG(mod, ...) tm_log(TM_LOG_DEBUG, mod, __VA_ARGS__)
#define TM_INFO(mod, ...) tm_log(TM_LOG_INFO, mod, __VA_ARGS__)
#define TM_WARN(mod, ...) tm_log(TM_LOG_WARN, mod, __VA_ARGS__)
#define TM_ERROR(mod, ...) tm_log(TM_LOG_ERROR, mod, __VA_ARGS__)

#endif
