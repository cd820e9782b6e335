/* vxtime.c — clocks. */
#include "lib/vxtime.h"

#include <time.h>

uint64_t vx_time_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t vx_time_mono_ms(void)
{
    return vx_time_mono_ns() / 1000000ull;
}

uint64_t vx_time_unix(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec;
}
