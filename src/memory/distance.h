/* distance.h: the distance kernels' function-pointer types (private to the memory module). The HNSW
 * fetches the pointers once at creation so the per-distance cost is one indirect call. */
#ifndef RT_MEMORY_DISTANCE_H
#define RT_MEMORY_DISTANCE_H

typedef float (*rt_dist_fn)(const float *a, const float *b, int n);

/* The kernels chosen for this CPU (or the scalar ones while rt_distance_force_scalar is on). */
rt_dist_fn rt_dot_kernel(void);
rt_dist_fn rt_l2sq_kernel(void);

#endif
