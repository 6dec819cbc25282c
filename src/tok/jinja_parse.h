/* jinja_parse.h: the parser's state and the helpers its two halves share: jinja_parse.c reads
 * expressions, jinja_stmt.c reads statements and the template body. Private to src/tok/jinja_*. */
#ifndef RT_TOK_JINJA_PARSE_H
#define RT_TOK_JINJA_PARSE_H

#include <string.h>

#include "tok/jinja.h"

typedef struct {
    jx_ctx *c;
    const jx_tok *t; /* tokens, ending with JT_EOF */
    size_t i, n;
    int depth;
} jx_parser;

static inline const jx_tok *jxp_cur(jx_parser *P) { return &P->t[P->i]; }
static inline int jxp_is_op(const jx_tok *t, const char *op) {
    return t->t == JT_OP && t->n == strlen(op) && !memcmp(t->s, op, t->n);
}
static inline int jxp_is_name(const jx_tok *t, const char *s) {
    return t->t == JT_NAME && t->n == strlen(s) && !memcmp(t->s, s, t->n);
}

_Noreturn void jxp_unexpected(jx_parser *P, const char *want);
void jxp_expect_op(jx_parser *P, const char *op);
const jx_tok *jxp_expect_name(jx_parser *P);
jx_node *jxp_node(jx_parser *P, jn_kind k, size_t pos);
void jxp_add_kid(jx_parser *P, jx_node *parent, jx_node *kid, size_t *cap);
void jxp_enter(jx_parser *P); /* one level deeper; fails past JX_MAX_DEPTH (the caller does depth--) */

jx_node *jxp_expr(jx_parser *P);              /* a full expression, `x if c else y` included */
jx_node *jxp_or(jx_parser *P);                /* an expression without the trailing `if`: a for loop's iterable */
jx_node *jxp_tuple(jx_parser *P, int names_only); /* an expression or a bare tuple `a, b` */

#endif
