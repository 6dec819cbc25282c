/* fuzz_jinja.c: libFuzzer target for the chat-template interpreter: the input is template text,
 * rendered with a fixed conversation. Any status is fine; a crash, leak, hang or sanitizer report is
 * not (the interpreter's limits bound memory, output and iterations).
 * Run: ./build-fuzz/fuzz/fuzz_jinja -max_total_time=60 */
#include <stdlib.h>
#include <string.h>

#include "tok/tok_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *tmpl = malloc(size + 1);
    if (!tmpl) return 0;
    memcpy(tmpl, data, size);
    tmpl[size] = '\0';
    rt_chat_message m[3] = {{"system", "Be brief.", NULL}, {"user", "Hi ü {{ x }}", NULL}, {"assistant", "<think>r</think>ok", "r"}};
    rt_tok_chat_vars v = {m, 3, rt_chat_params_default(), "<s>", "</s>"};
    v.params.add_generation_prompt = size & 1;
    char *out = NULL;
    if (rt_tok_chat_render_template(tmpl, "fuzz", &v, &out) == RT_OK && !out) abort();
    free(out);
    free(tmpl);
    return 0;
}
