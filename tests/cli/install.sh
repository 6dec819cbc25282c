#!/usr/bin/env bash
# `cmake --install` puts the binary, the shared libretrace, the headers and retrace.pc in place: install
# the build this binary belongs to into a temporary prefix, then compile and link a small C program
# against it with pkg-config alone, and check that it tokenizes as the installed binary does.
# Args: RETRACE_BIN FIXTURES_DIR
. "$(dirname "$0")/../cli_common.sh"
build=$(dirname "$bin")
for t in cmake pkg-config cc; do
  command -v $t >/dev/null || { echo "skip: $t not installed"; echo "0 passed, 0 failed"; exit 0; }
done

cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/log" 2>&1 || { bad "cmake --install: $(tail -5 "$tmp/log")"; }
[ -x "$tmp/prefix/bin/retrace" ] && ok || bad "no bin/retrace"
ls "$tmp"/prefix/lib*/libretrace.so* >/dev/null 2>&1 && ok || bad "no libretrace.so: $(cd "$tmp/prefix" && find . -name '*.so*')"
[ -f "$tmp/prefix/include/retrace.h" ] && [ -f "$tmp/prefix/include/retrace/tok.h" ] && ok || bad "headers not installed"
pc=$(find "$tmp/prefix" -name retrace.pc | head -1)
[ -n "$pc" ] && ok || bad "no retrace.pc"
export PKG_CONFIG_PATH=$(dirname "$pc")

cat >"$tmp/hello.c" <<'C'
/* A program of someone else's: tokenizes its argument with libretrace. */
#include <retrace.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    rt_tokenizer *t;
    rt_tok_ids ids = {0};
    if (argc != 3 || rt_tokenizer_load(argv[1], &t) != RT_OK) return fprintf(stderr, "%s\n", rt_errmsg()), 1;
    if (rt_tokenizer_encode(t, argv[2], strlen(argv[2]), 0, &ids) != RT_OK) return 1;
    for (size_t i = 0; i < ids.n; i++) printf(i ? " %d" : "%d", (int)ids.ids[i]);
    printf("\n");
    rt_tok_ids_free(&ids);
    rt_tokenizer_free(t);
    return 0;
}
C
flags=$(pkg-config --cflags --libs retrace) && ok || bad "pkg-config --cflags --libs retrace"
# A sanitizer build's library needs its runtime first in the program, as the program's own build would.
san=
grep -q "^RT_SANITIZE:BOOL=ON" "$build/CMakeCache.txt" 2>/dev/null && san="-fsanitize=address,undefined"
cc -std=c11 $san -o "$tmp/hello" "$tmp/hello.c" $flags 2>"$tmp/cc.err" && ok || bad "compile and link: $(cat "$tmp/cc.err")"
libdir=$(pkg-config --variable=libdir retrace)
tokdir=$fx/tok/models/trained-bpe
got=$(LD_LIBRARY_PATH=$libdir "$tmp/hello" "$tokdir" "the cat sat on the mat" 2>&1)
want=$(echo "the cat sat on the mat" | "$tmp/prefix/bin/retrace" tokenize --tokenizer "$tokdir")
[ -n "$got" ] && [ "$got" = "$want" ] && ok || bad "the program linked against libretrace gave '$got', the binary '$want'"
ldd "$tmp/hello" | grep -q "libretrace.so" && ok || bad "the program is not linked to the shared libretrace"

finish
