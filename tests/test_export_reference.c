/* test_export_reference.c: the other direction of the reference check. retrace trains an adapter (and a
 * full fine-tune), exports it in the PEFT / Hugging Face layout with its logits, and
 * tools/check_export.py loads the export in transformers + PEFT and compares the logits (1e-4).
 * Skipped, with the reason, where python3 lacks torch, transformers or peft (CI installs no Python
 * packages; developers run it with them installed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "retrace.h"
#include "retrace/model.h"

#define B_REF 2
#define T_REF 24
#define TRAIN_STEPS 5

static int have_reference(void) {
    return system("python3 -c 'import torch, transformers, peft, safetensors' >/dev/null 2>&1") == 0;
}

static void write_ref(const char *path, const int32_t *ids, const int32_t *mask, const float *logits, float loss, int V) {
    rt_st_writer *w = rt_st_writer_new();
    int64_t s2[2] = {B_REF, T_REF}, s3[3] = {B_REF, T_REF, V}, s1[1] = {1};
    assert_int_equal(rt_st_writer_add_raw(w, "input_ids", RT_DTYPE_I32, 2, s2, ids), RT_OK);
    assert_int_equal(rt_st_writer_add_raw(w, "loss_mask", RT_DTYPE_I32, 2, s2, mask), RT_OK);
    assert_int_equal(rt_st_writer_add_f32(w, "logits", RT_DTYPE_F32, 3, s3, logits), RT_OK);
    assert_int_equal(rt_st_writer_add_f32(w, "loss", RT_DTYPE_F32, 1, s1, &loss), RT_OK);
    assert_int_equal(rt_st_writer_save(w, path), RT_OK);
    rt_st_writer_free(w);
}

/* Trains TRAIN_STEPS AdamW steps on the fixture batch, then writes the logits of the trained model. */
static void train_and_write(rt_model *m, const int32_t *ids, const int32_t *mask, const char *ref_path, int full) {
    int32_t targets[B_REF * T_REF];
    rt_causal_targets(targets, ids, mask, B_REF, T_REF);
    assert_int_equal(rt_model_train_setup(m, full), RT_OK);
    rt_adamw opt;
    rt_adamw_params hp = rt_adamw_params_default();
    hp.lr = 5e-3f;
    assert_int_equal(rt_adamw_init(&opt, m->param_list, m->n_param_list, hp), RT_OK);
    float loss = 0, first = 0;
    for (int s = 0; s < TRAIN_STEPS; s++) {
        rt_params_zero_grad(m->param_list, m->n_param_list);
        assert_int_equal(rt_model_forward(m, ids, targets, B_REF, T_REF, &loss), RT_OK);
        if (s == 0) first = loss;
        assert_int_equal(rt_model_backward(m, 1.0f), RT_OK);
        rt_adamw_step(&opt, hp.lr);
    }
    assert_int_equal(rt_model_forward(m, ids, targets, B_REF, T_REF, &loss), RT_OK);
    assert_true(loss < first); /* it did train */
    write_ref(ref_path, ids, mask, rt_model_logits(m), loss, m->cfg.vocab_size);
    rt_adamw_free(&opt);
}

static void test_reference_loads_exports(void **state) {
    (void)state;
    if (!have_reference()) {
        print_message("skipped: python3 with torch, transformers and peft is needed (pip install torch transformers peft safetensors)\n");
        skip();
    }
    char fixture[512], path[1024];
    snprintf(fixture, sizeof fixture, "%s/models/llama", RT_FIXTURES_DIR);
    char dir[] = "/tmp/rt_export_XXXXXX";
    assert_non_null(mkdtemp(dir));

    rt_st_file *ref;
    snprintf(path, sizeof path, "%s/reference.safetensors", fixture);
    assert_int_equal(rt_st_open(path, &ref), RT_OK);
    int32_t ids[B_REF * T_REF], mask[B_REF * T_REF];
    int64_t shape[2] = {B_REF, T_REF};
    assert_int_equal(rt_st_read_i32(ref, "input_ids", ids, 2, shape), RT_OK);
    assert_int_equal(rt_st_read_i32(ref, "loss_mask", mask, 2, shape), RT_OK);
    rt_st_close(ref);

    /* 1. A LoRA adapter trained by retrace from a fresh (B = 0) initialisation. */
    rt_model *m;
    snprintf(path, sizeof path, "%s/model", fixture);
    assert_int_equal(rt_model_load(path, &m), RT_OK);
    rt_lora_config lc = {.r = 8, .alpha = 16, .rslora = 1, .dropout = 0.0f, .proj_mask = RT_PROJ_ALL_MASK};
    assert_int_equal(rt_lora_attach(m, &lc, 7), RT_OK);
    snprintf(path, sizeof path, "%s/lora_ref.safetensors", dir);
    train_and_write(m, ids, mask, path, 0);
    snprintf(path, sizeof path, "%s/adapter", dir);
    assert_int_equal(rt_lora_save_peft(m, path, "tiny-llama"), RT_OK);
    rt_model_free(m);
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "python3 %s/../tools/check_export.py --model %s/model --adapter %s/adapter --ref %s/lora_ref.safetensors",
             RT_FIXTURES_DIR "/..", fixture, dir, dir);
    assert_int_equal(system(cmd), 0);

    /* 2. A fully fine-tuned model saved in the Hugging Face layout. */
    snprintf(path, sizeof path, "%s/model", fixture);
    assert_int_equal(rt_model_load(path, &m), RT_OK);
    snprintf(path, sizeof path, "%s/full_ref.safetensors", dir);
    train_and_write(m, ids, mask, path, 1);
    snprintf(path, sizeof path, "%s/full", dir);
    assert_int_equal(rt_model_save(m, path), RT_OK);
    rt_model_free(m);
    snprintf(cmd, sizeof cmd, "python3 %s/../tools/check_export.py --model %s/full --ref %s/full_ref.safetensors",
             RT_FIXTURES_DIR "/..", dir, dir);
    assert_int_equal(system(cmd), 0);

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_reference_loads_exports)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
