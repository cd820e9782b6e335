/* vxtime.h — clocks. */
#ifndef VX6_LIB_VXTIME_H
#define VX6_LIB_VXTIME_H

#include <stdint.h>

/* Monotonic milliseconds since an arbitrary point; never goes backwards. */
uint64_t vx_time_mono_ms(void);
/* Monotonic nanoseconds. */
uint64_t vx_time_mono_ns(void);
/* Wall-clock seconds since the Unix epoch (for record timestamps). */
uint64_t vx_time_unix(void);

#endif
