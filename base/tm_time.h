/* Clocks. */
#ifndef TM_TIME_H
#define TM_TIME_H

#include <stdint.h>
#include <time.h>

/* Wall-clock milliseconds since the Unix epoch. */
static inline uint64_t tm_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Monotonic nanoseconds, for durations. */
static inline uint64_t tm_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
