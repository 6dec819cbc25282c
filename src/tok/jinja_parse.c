/* jinja_parse.c: tokens to expression trees, with Jinja's precedence (lowest first): `x if c else y`,
 * or, and, not, comparisons and `in`, + -, ~, * / // %, **, unary - +, then postfix `.attr`,
 * `[item]`, `[a:b:c]`, calls, `| filter` and `is test`; and the helpers the statement parser
 * (jinja_stmt.c) shares. Errors name what was expected and the line:column. */
#include "tok/jinja_parse.h"

static const char *tok_desc(const jx_tok *t) {
    switch (t->t) {
    case JT_EOF: return "end of template";
    case JT_END: return "end of tag";
    case JT_TEXT: return "text";
    default: return "token";
    }
}

_Noreturn void jxp_unexpected(jx_parser *P, const char *want) {
    const jx_tok *t = jxp_cur(P);
    if (t->t == JT_NAME || t->t == JT_OP)
        jx_fail(P->c, RT_ERR_FORMAT, t->pos, "expected %s, got '%.*s'", want, (int)t->n, t->s);
    jx_fail(P->c, RT_ERR_FORMAT, t->pos, "expected %s, got %s", want, tok_desc(t));
}

void jxp_expect_op(jx_parser *P, const char *op) {
    if (!jxp_is_op(jxp_cur(P), op)) jxp_unexpected(P, op);
    P->i++;
}

const jx_tok *jxp_expect_name(jx_parser *P) {
    if (jxp_cur(P)->t != JT_NAME) jxp_unexpected(P, "a name");
    return &P->t[P->i++];
}

jx_node *jxp_node(jx_parser *P, jn_kind k, size_t pos) {
    jx_node *e = jx_alloc(P->c, sizeof *e);
    memset(e, 0, sizeof *e);
    e->k = k;
    e->pos = pos;
    return e;
}

void jxp_add_kid(jx_parser *P, jx_node *parent, jx_node *kid, size_t *cap) {
    if (parent->n_kids == *cap) {
        *cap = *cap ? 2 * *cap : 4;
        jx_node **nk = jx_alloc(P->c, *cap * sizeof *nk);
        if (parent->n_kids) memcpy(nk, parent->kids, parent->n_kids * sizeof *nk);
        parent->kids = nk;
    }
    parent->kids[parent->n_kids++] = kid;
}

static jx_node *unary(jx_parser *P, int with_filter);

void jxp_enter(jx_parser *P) {
    if (++P->depth > JX_MAX_DEPTH) jx_fail(P->c, RT_ERR_ARG, jxp_cur(P)->pos, "template nests deeper than %d", JX_MAX_DEPTH);
}

/* ( args ) after a callee: positional and name=value arguments. */
static void call_args(jx_parser *P, jx_node *call) {
    size_t cap = 0;
    jxp_expect_op(P, "(");
    while (!jxp_is_op(jxp_cur(P), ")")) {
        if (call->n_kids) jxp_expect_op(P, ",");
        if (jxp_is_op(jxp_cur(P), ")")) break;
        if (jxp_cur(P)->t == JT_NAME && jxp_is_op(&P->t[P->i + 1], "=")) {
            jx_node *kw = jxp_node(P, JN_KWARG, jxp_cur(P)->pos);
            kw->s = jxp_cur(P)->s, kw->n = jxp_cur(P)->n;
            P->i += 2;
            kw->a = jxp_expr(P);
            jxp_add_kid(P, call, kw, &cap);
        } else {
            jxp_add_kid(P, call, jxp_expr(P), &cap);
        }
    }
    P->i++;
}

static jx_node *primary(jx_parser *P) {
    const jx_tok *t = jxp_cur(P);
    jx_node *e = jxp_node(P, JN_LIT, t->pos);
    if (t->t == JT_STRING) {
        /* Adjacent literals concatenate, as in Python. */
        jx_buf b = {0};
        jx_buf_put(P->c, &b, "", 0);
        while (jxp_cur(P)->t == JT_STRING) jx_buf_put(P->c, &b, jxp_cur(P)->s, jxp_cur(P)->n), P->i++;
        e->lit = jv_str(b.p, b.n);
    } else if (t->t == JT_INT || t->t == JT_FLOAT) {
        e->lit = t->t == JT_INT ? jv_int(t->i) : jv_float(t->f);
        P->i++;
    } else if (t->t == JT_NAME) {
        P->i++;
        if (jxp_is_name(t, "true") || jxp_is_name(t, "True")) e->lit = jv_bool(1);
        else if (jxp_is_name(t, "false") || jxp_is_name(t, "False")) e->lit = jv_bool(0);
        else if (jxp_is_name(t, "none") || jxp_is_name(t, "None")) e->lit = jv_none();
        else e->k = JN_NAME, e->s = t->s, e->n = t->n;
    } else if (jxp_is_op(t, "(") || jxp_is_op(t, "[")) {
        int paren = jxp_is_op(t, "(");
        const char *close = paren ? ")" : "]";
        size_t cap = 0;
        int comma = 0;
        e->k = paren ? JN_TUPLE : JN_LIST;
        P->i++;
        while (!jxp_is_op(jxp_cur(P), close)) {
            if (e->n_kids) jxp_expect_op(P, ","), comma = 1;
            if (jxp_is_op(jxp_cur(P), close)) break;
            jxp_add_kid(P, e, jxp_expr(P), &cap);
        }
        P->i++;
        if (paren && e->n_kids == 1 && !comma) return e->kids[0];
    } else if (jxp_is_op(t, "{")) {
        size_t cap = 0;
        e->k = JN_DICT;
        P->i++;
        while (!jxp_is_op(jxp_cur(P), "}")) {
            if (e->n_kids) jxp_expect_op(P, ",");
            if (jxp_is_op(jxp_cur(P), "}")) break;
            jxp_add_kid(P, e, jxp_expr(P), &cap);
            jxp_expect_op(P, ":");
            jxp_add_kid(P, e, jxp_expr(P), &cap);
        }
        P->i++;
    } else {
        jxp_unexpected(P, "an expression");
    }
    return e;
}

/* [ subscript ]: an item or a slice a:b:c with any part left out. */
static jx_node *subscript(jx_parser *P, jx_node *obj) {
    size_t pos = jxp_cur(P)->pos;
    jxp_expect_op(P, "[");
    jx_node *parts[3] = {0};
    int k = 0, slice = 0;
    for (;;) {
        if (!jxp_is_op(jxp_cur(P), ":") && !jxp_is_op(jxp_cur(P), "]")) parts[k] = jxp_expr(P);
        if (jxp_is_op(jxp_cur(P), ":") && k < 2) {
            P->i++, k++, slice = 1;
            continue;
        }
        break;
    }
    jxp_expect_op(P, "]");
    jx_node *e = jxp_node(P, slice ? JN_SLICE : JN_ITEM, pos);
    e->a = obj, e->b = parts[0], e->c = parts[1], e->d = parts[2];
    if (!slice && !parts[0]) jx_fail(P->c, RT_ERR_FORMAT, pos, "empty subscript");
    return e;
}

static jx_node *postfix(jx_parser *P, jx_node *e) {
    for (;;) {
        const jx_tok *t = jxp_cur(P);
        if (jxp_is_op(t, ".")) {
            P->i++;
            const jx_tok *name = jxp_cur(P);
            if (name->t != JT_NAME && name->t != JT_INT) jxp_unexpected(P, "an attribute name");
            jx_node *a = jxp_node(P, name->t == JT_NAME ? JN_ATTR : JN_ITEM, name->pos);
            a->a = e;
            if (name->t == JT_NAME) a->s = name->s, a->n = name->n;
            else a->b = jxp_node(P, JN_LIT, name->pos), a->b->lit = jv_int(name->i);
            P->i++;
            e = a;
        } else if (jxp_is_op(t, "[")) {
            e = subscript(P, e);
        } else if (jxp_is_op(t, "(")) {
            jx_node *call = jxp_node(P, JN_CALL, t->pos);
            call->a = e;
            call_args(P, call);
            e = call;
        } else {
            return e;
        }
    }
}

/* | name(args) and `is [not] name [arg]` chains. */
static jx_node *filters(jx_parser *P, jx_node *e) {
    for (;;) {
        if (jxp_is_op(jxp_cur(P), "|")) {
            P->i++;
            const jx_tok *name = jxp_expect_name(P);
            jx_node *f = jxp_node(P, JN_FILTER, name->pos);
            f->s = name->s, f->n = name->n, f->a = e;
            if (jxp_is_op(jxp_cur(P), "(")) call_args(P, f);
            e = f;
        } else if (jxp_is_name(jxp_cur(P), "is")) {
            P->i++;
            jx_node *t = jxp_node(P, JN_TEST, jxp_cur(P)->pos);
            if (jxp_is_name(jxp_cur(P), "not")) t->neg = 1, P->i++;
            const jx_tok *name = jxp_expect_name(P);
            t->s = name->s, t->n = name->n, t->a = e;
            const jx_tok *nx = jxp_cur(P);
            if (jxp_is_op(nx, "(")) {
                call_args(P, t);
            } else if ((nx->t == JT_NAME || nx->t == JT_STRING || nx->t == JT_INT || nx->t == JT_FLOAT ||
                        jxp_is_op(nx, "[") || jxp_is_op(nx, "{")) &&
                       !jxp_is_name(nx, "else") && !jxp_is_name(nx, "or") && !jxp_is_name(nx, "and") && !jxp_is_name(nx, "is")) {
                t->kids = jx_alloc(P->c, sizeof *t->kids);
                t->kids[0] = postfix(P, primary(P));
                t->n_kids = 1;
            }
            e = t;
        } else if (jxp_is_op(jxp_cur(P), "(")) {
            jx_node *call = jxp_node(P, JN_CALL, jxp_cur(P)->pos);
            call->a = e;
            call_args(P, call);
            e = call;
        } else {
            return e;
        }
    }
}

static jx_node *unary(jx_parser *P, int with_filter) {
    jxp_enter(P);
    const jx_tok *t = jxp_cur(P);
    jx_node *e;
    if (jxp_is_op(t, "-") || jxp_is_op(t, "+")) {
        P->i++;
        e = jxp_node(P, jxp_is_op(t, "-") ? JN_NEG : JN_POS, t->pos);
        e->a = unary(P, 0);
    } else {
        e = primary(P);
    }
    e = postfix(P, e);
    if (with_filter) e = filters(P, e);
    P->depth--;
    return e;
}

static jx_node *binary(jx_parser *P, int level);

/* Binary operator levels, loosest first (or/and/not/compare are handled in binary()). */
static const char *const LEVELS[][5] = {{"+", "-"}, {"~"}, {"*", "/", "//", "%"}, {"**"}};
#define N_LEVELS 4

static jx_node *arith(jx_parser *P, int level) {
    if (level == N_LEVELS) return unary(P, 1);
    jx_node *e = arith(P, level + 1);
    for (;;) {
        const jx_tok *t = jxp_cur(P);
        const char *hit = NULL; /* the static spelling: jx_binop compares NUL-terminated names */
        for (int k = 0; k < 5 && LEVELS[level][k]; k++)
            if (jxp_is_op(t, LEVELS[level][k])) hit = LEVELS[level][k];
        if (!hit) return e;
        P->i++;
        jx_node *b = jxp_node(P, JN_BIN, t->pos);
        b->s = hit, b->n = strlen(hit), b->a = e, b->b = arith(P, level + 1);
        e = b;
    }
}

static int compare_op(jx_parser *P, const char **op) {
    static const char *const ops[] = {"==", "!=", "<", "<=", ">", ">="};
    for (size_t k = 0; k < 6; k++)
        if (jxp_is_op(jxp_cur(P), ops[k])) return *op = ops[k], 1;
    if (jxp_is_name(jxp_cur(P), "in")) return *op = "in", 1;
    if (jxp_is_name(jxp_cur(P), "not") && jxp_is_name(&P->t[P->i + 1], "in")) return *op = "not in", 2;
    return 0;
}

/* level 0: or, 1: and, 2: not, 3: comparisons (chained as Python does: a < b < c). */
static jx_node *binary(jx_parser *P, int level) {
    jxp_enter(P);
    jx_node *e;
    if (level == 2) {
        if (jxp_is_name(jxp_cur(P), "not")) {
            e = jxp_node(P, JN_NOT, jxp_cur(P)->pos);
            P->i++;
            e->a = binary(P, 2);
        } else {
            e = binary(P, 3);
        }
    } else if (level == 3) {
        e = arith(P, 0);
        const char *op;
        int k;
        jx_node *chain = NULL;
        while ((k = compare_op(P, &op))) {
            size_t pos = jxp_cur(P)->pos;
            P->i += (size_t)k;
            jx_node *b = jxp_node(P, JN_BIN, pos);
            b->s = op, b->n = strlen(op), b->a = chain ? chain->b : e, b->b = arith(P, 0);
            if (chain) {
                jx_node *both = jxp_node(P, JN_AND, pos);
                both->a = e, both->b = b;
                e = both;
            } else {
                e = b;
            }
            chain = b;
        }
    } else {
        e = binary(P, level + 1);
        const char *word = level == 0 ? "or" : "and";
        while (jxp_is_name(jxp_cur(P), word)) {
            jx_node *b = jxp_node(P, level == 0 ? JN_OR : JN_AND, jxp_cur(P)->pos);
            P->i++;
            b->a = e, b->b = binary(P, level + 1);
            e = b;
        }
    }
    P->depth--;
    return e;
}

jx_node *jxp_expr(jx_parser *P) {
    jxp_enter(P);
    jx_node *e = binary(P, 0);
    while (jxp_is_name(jxp_cur(P), "if")) {
        jx_node *c = jxp_node(P, JN_COND, jxp_cur(P)->pos);
        P->i++;
        c->a = binary(P, 0), c->b = e;
        if (jxp_is_name(jxp_cur(P), "else")) P->i++, c->c = jxp_expr(P);
        e = c;
    }
    P->depth--;
    return e;
}

/* An expression or a bare tuple `a, b` (for targets and {{ a, b }}). */
jx_node *jxp_tuple(jx_parser *P, int names_only) {
    size_t pos = jxp_cur(P)->pos, cap = 0;
    jx_node *first = names_only ? primary(P) : jxp_expr(P);
    if (!jxp_is_op(jxp_cur(P), ",")) return first;
    jx_node *t = jxp_node(P, JN_TUPLE, pos);
    jxp_add_kid(P, t, first, &cap);
    while (jxp_is_op(jxp_cur(P), ",")) {
        P->i++;
        if (jxp_cur(P)->t == JT_END || jxp_is_name(jxp_cur(P), "in") || jxp_is_op(jxp_cur(P), "=")) break;
        jxp_add_kid(P, t, names_only ? primary(P) : jxp_expr(P), &cap);
    }
    return t;
}

jx_node *jxp_or(jx_parser *P) { return binary(P, 0); }
