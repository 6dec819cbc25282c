/* model_internal.h: what the model's source files share and callers need not see. */
#ifndef RT_MODEL_INTERNAL_H
#define RT_MODEL_INTERNAL_H

#include "retrace/model.h"

#define RT_TENSOR_NAME_MAX 128

/* One named base tensor: the unit of loading, saving and full fine-tuning. */
typedef struct {
    char name[RT_TENSOR_NAME_MAX];
    float *data;
    float *grad; /* NULL unless full fine-tuning */
    int ndim;
    int64_t shape[2];
    int decay;   /* matrices decay, norms and biases do not */
} rt_tensor_ref;

/* Output and input sizes of projection p. */
void rt_proj_dims(const rt_model_config *c, rt_proj p, int *out, int *in);
int rt_proj_has_bias(const rt_model_config *c, rt_proj p);
/* Lists the base tensors (tied lm_head omitted) into refs (capacity from rt_model_tensor_count). */
int rt_model_tensor_count(const rt_model *m);
int rt_model_tensors(const rt_model *m, rt_tensor_ref *refs);
/* Points a weights struct into a flat buffer laid out like m->params. */
void rt_weights_bind(const rt_model_config *c, rt_weights *w, float *base);
size_t rt_weights_size(const rt_model_config *c);
void rt_model_acts_free(rt_model_acts *a);
/* A model with its weights allocated (uninitialised) and bound. */
rt_model *rt_model_alloc(const rt_model_config *cfg);
/* out (N,out) (+)= x W^T + b, plus the adapter's scale (lora_x A^T) B^T when (l, p) has one, with
 * lora_x A^T written to xa (N, r). lora_x is x, or x after dropout. */
void rt_linear_apply(const rt_model *m, int l, rt_proj p, const float *x, const float *lora_x, float *out, int N,
                     int accumulate, float *xa);

#endif
