/* jinja_parse.c: tokens to a tree, with Jinja's grammar and precedence (lowest first): `x if c else y`,
 * or, and, not, comparisons and `in`, + -, ~, * / // %, **, unary - +, then postfix `.attr`,
 * `[item]`, `[a:b:c]`, calls, `| filter` and `is test`. Statements: if/elif/else, for (with `if` and
 * else), set (names, `ns.attr`, tuples, blocks), macro, break, continue, and transformers'
 * {% generation %} marker. Anything else is an error naming the tag and its line:column. */
#include <string.h>

#include "tok/jinja.h"

typedef struct {
    jx_ctx *c;
    const jx_tok *t;
    size_t i, n;
    int depth;
} parser;

static const jx_tok *cur(parser *P) { return &P->t[P->i]; }
static int is_op(const jx_tok *t, const char *op) { return t->t == JT_OP && t->n == strlen(op) && !memcmp(t->s, op, t->n); }
static int is_name(const jx_tok *t, const char *s) { return t->t == JT_NAME && t->n == strlen(s) && !memcmp(t->s, s, t->n); }

static const char *tok_desc(const jx_tok *t) {
    switch (t->t) {
    case JT_EOF: return "end of template";
    case JT_END: return "end of tag";
    case JT_TEXT: return "text";
    default: return "token";
    }
}

static _Noreturn void unexpected(parser *P, const char *want) {
    const jx_tok *t = cur(P);
    if (t->t == JT_NAME || t->t == JT_OP)
        jx_fail(P->c, RT_ERR_FORMAT, t->pos, "expected %s, got '%.*s'", want, (int)t->n, t->s);
    jx_fail(P->c, RT_ERR_FORMAT, t->pos, "expected %s, got %s", want, tok_desc(t));
}

static void expect_op(parser *P, const char *op) {
    if (!is_op(cur(P), op)) unexpected(P, op);
    P->i++;
}

static const jx_tok *expect_name(parser *P) {
    if (cur(P)->t != JT_NAME) unexpected(P, "a name");
    return &P->t[P->i++];
}

static jx_node *node(parser *P, jn_kind k, size_t pos) {
    jx_node *e = jx_alloc(P->c, sizeof *e);
    memset(e, 0, sizeof *e);
    e->k = k;
    e->pos = pos;
    return e;
}

static void add_kid(parser *P, jx_node *parent, jx_node *kid, size_t *cap) {
    if (parent->n_kids == *cap) {
        *cap = *cap ? 2 * *cap : 4;
        jx_node **nk = jx_alloc(P->c, *cap * sizeof *nk);
        if (parent->n_kids) memcpy(nk, parent->kids, parent->n_kids * sizeof *nk);
        parent->kids = nk;
    }
    parent->kids[parent->n_kids++] = kid;
}

static jx_node *expr(parser *P);
static jx_node *unary(parser *P, int with_filter);

static void enter(parser *P) {
    if (++P->depth > JX_MAX_DEPTH) jx_fail(P->c, RT_ERR_ARG, cur(P)->pos, "template nests deeper than %d", JX_MAX_DEPTH);
}

/* ( args ) after a callee: positional and name=value arguments. */
static void call_args(parser *P, jx_node *call) {
    size_t cap = 0;
    expect_op(P, "(");
    while (!is_op(cur(P), ")")) {
        if (call->n_kids) expect_op(P, ",");
        if (is_op(cur(P), ")")) break;
        if (cur(P)->t == JT_NAME && is_op(&P->t[P->i + 1], "=")) {
            jx_node *kw = node(P, JN_KWARG, cur(P)->pos);
            kw->s = cur(P)->s, kw->n = cur(P)->n;
            P->i += 2;
            kw->a = expr(P);
            add_kid(P, call, kw, &cap);
        } else {
            add_kid(P, call, expr(P), &cap);
        }
    }
    P->i++;
}

static jx_node *primary(parser *P) {
    const jx_tok *t = cur(P);
    jx_node *e = node(P, JN_LIT, t->pos);
    if (t->t == JT_STRING) {
        /* Adjacent literals concatenate, as in Python. */
        jx_buf b = {0};
        jx_buf_put(P->c, &b, "", 0);
        while (cur(P)->t == JT_STRING) jx_buf_put(P->c, &b, cur(P)->s, cur(P)->n), P->i++;
        e->lit = jv_str(b.p, b.n);
    } else if (t->t == JT_INT || t->t == JT_FLOAT) {
        e->lit = t->t == JT_INT ? jv_int(t->i) : jv_float(t->f);
        P->i++;
    } else if (t->t == JT_NAME) {
        P->i++;
        if (is_name(t, "true") || is_name(t, "True")) e->lit = jv_bool(1);
        else if (is_name(t, "false") || is_name(t, "False")) e->lit = jv_bool(0);
        else if (is_name(t, "none") || is_name(t, "None")) e->lit = jv_none();
        else e->k = JN_NAME, e->s = t->s, e->n = t->n;
    } else if (is_op(t, "(") || is_op(t, "[")) {
        int paren = is_op(t, "(");
        const char *close = paren ? ")" : "]";
        size_t cap = 0;
        int comma = 0;
        e->k = paren ? JN_TUPLE : JN_LIST;
        P->i++;
        while (!is_op(cur(P), close)) {
            if (e->n_kids) expect_op(P, ","), comma = 1;
            if (is_op(cur(P), close)) break;
            add_kid(P, e, expr(P), &cap);
        }
        P->i++;
        if (paren && e->n_kids == 1 && !comma) return e->kids[0];
    } else if (is_op(t, "{")) {
        size_t cap = 0;
        e->k = JN_DICT;
        P->i++;
        while (!is_op(cur(P), "}")) {
            if (e->n_kids) expect_op(P, ",");
            if (is_op(cur(P), "}")) break;
            add_kid(P, e, expr(P), &cap);
            expect_op(P, ":");
            add_kid(P, e, expr(P), &cap);
        }
        P->i++;
    } else {
        unexpected(P, "an expression");
    }
    return e;
}

/* [ subscript ]: an item or a slice a:b:c with any part left out. */
static jx_node *subscript(parser *P, jx_node *obj) {
    size_t pos = cur(P)->pos;
    expect_op(P, "[");
    jx_node *parts[3] = {0};
    int k = 0, slice = 0;
    for (;;) {
        if (!is_op(cur(P), ":") && !is_op(cur(P), "]")) parts[k] = expr(P);
        if (is_op(cur(P), ":") && k < 2) {
            P->i++, k++, slice = 1;
            continue;
        }
        break;
    }
    expect_op(P, "]");
    jx_node *e = node(P, slice ? JN_SLICE : JN_ITEM, pos);
    e->a = obj, e->b = parts[0], e->c = parts[1], e->d = parts[2];
    if (!slice && !parts[0]) jx_fail(P->c, RT_ERR_FORMAT, pos, "empty subscript");
    return e;
}

static jx_node *postfix(parser *P, jx_node *e) {
    for (;;) {
        const jx_tok *t = cur(P);
        if (is_op(t, ".")) {
            P->i++;
            const jx_tok *name = cur(P);
            if (name->t != JT_NAME && name->t != JT_INT) unexpected(P, "an attribute name");
            jx_node *a = node(P, name->t == JT_NAME ? JN_ATTR : JN_ITEM, name->pos);
            a->a = e;
            if (name->t == JT_NAME) a->s = name->s, a->n = name->n;
            else a->b = node(P, JN_LIT, name->pos), a->b->lit = jv_int(name->i);
            P->i++;
            e = a;
        } else if (is_op(t, "[")) {
            e = subscript(P, e);
        } else if (is_op(t, "(")) {
            jx_node *call = node(P, JN_CALL, t->pos);
            call->a = e;
            call_args(P, call);
            e = call;
        } else {
            return e;
        }
    }
}

/* | name(args) and `is [not] name [arg]` chains. */
static jx_node *filters(parser *P, jx_node *e) {
    for (;;) {
        if (is_op(cur(P), "|")) {
            P->i++;
            const jx_tok *name = expect_name(P);
            jx_node *f = node(P, JN_FILTER, name->pos);
            f->s = name->s, f->n = name->n, f->a = e;
            if (is_op(cur(P), "(")) call_args(P, f);
            e = f;
        } else if (is_name(cur(P), "is")) {
            P->i++;
            jx_node *t = node(P, JN_TEST, cur(P)->pos);
            if (is_name(cur(P), "not")) t->neg = 1, P->i++;
            const jx_tok *name = expect_name(P);
            t->s = name->s, t->n = name->n, t->a = e;
            const jx_tok *nx = cur(P);
            if (is_op(nx, "(")) {
                call_args(P, t);
            } else if ((nx->t == JT_NAME || nx->t == JT_STRING || nx->t == JT_INT || nx->t == JT_FLOAT ||
                        is_op(nx, "[") || is_op(nx, "{")) &&
                       !is_name(nx, "else") && !is_name(nx, "or") && !is_name(nx, "and") && !is_name(nx, "is")) {
                t->kids = jx_alloc(P->c, sizeof *t->kids);
                t->kids[0] = postfix(P, primary(P));
                t->n_kids = 1;
            }
            e = t;
        } else if (is_op(cur(P), "(")) {
            jx_node *call = node(P, JN_CALL, cur(P)->pos);
            call->a = e;
            call_args(P, call);
            e = call;
        } else {
            return e;
        }
    }
}

static jx_node *unary(parser *P, int with_filter) {
    enter(P);
    const jx_tok *t = cur(P);
    jx_node *e;
    if (is_op(t, "-") || is_op(t, "+")) {
        P->i++;
        e = node(P, is_op(t, "-") ? JN_NEG : JN_POS, t->pos);
        e->a = unary(P, 0);
    } else {
        e = primary(P);
    }
    e = postfix(P, e);
    if (with_filter) e = filters(P, e);
    P->depth--;
    return e;
}

static jx_node *binary(parser *P, int level);

/* Binary operator levels, loosest first (or/and/not/compare are handled in binary()). */
static const char *const LEVELS[][5] = {{"+", "-"}, {"~"}, {"*", "/", "//", "%"}, {"**"}};
#define N_LEVELS 4

static jx_node *arith(parser *P, int level) {
    if (level == N_LEVELS) return unary(P, 1);
    jx_node *e = arith(P, level + 1);
    for (;;) {
        const jx_tok *t = cur(P);
        const char *hit = NULL; /* the static spelling: jx_binop compares NUL-terminated names */
        for (int k = 0; k < 5 && LEVELS[level][k]; k++)
            if (is_op(t, LEVELS[level][k])) hit = LEVELS[level][k];
        if (!hit) return e;
        P->i++;
        jx_node *b = node(P, JN_BIN, t->pos);
        b->s = hit, b->n = strlen(hit), b->a = e, b->b = arith(P, level + 1);
        e = b;
    }
}

static int compare_op(parser *P, const char **op) {
    static const char *const ops[] = {"==", "!=", "<", "<=", ">", ">="};
    for (size_t k = 0; k < 6; k++)
        if (is_op(cur(P), ops[k])) return *op = ops[k], 1;
    if (is_name(cur(P), "in")) return *op = "in", 1;
    if (is_name(cur(P), "not") && is_name(&P->t[P->i + 1], "in")) return *op = "not in", 2;
    return 0;
}

/* level 0: or, 1: and, 2: not, 3: comparisons (chained as Python does: a < b < c). */
static jx_node *binary(parser *P, int level) {
    enter(P);
    jx_node *e;
    if (level == 2) {
        if (is_name(cur(P), "not")) {
            e = node(P, JN_NOT, cur(P)->pos);
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
            size_t pos = cur(P)->pos;
            P->i += (size_t)k;
            jx_node *b = node(P, JN_BIN, pos);
            b->s = op, b->n = strlen(op), b->a = chain ? chain->b : e, b->b = arith(P, 0);
            if (chain) {
                jx_node *both = node(P, JN_AND, pos);
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
        while (is_name(cur(P), word)) {
            jx_node *b = node(P, level == 0 ? JN_OR : JN_AND, cur(P)->pos);
            P->i++;
            b->a = e, b->b = binary(P, level + 1);
            e = b;
        }
    }
    P->depth--;
    return e;
}

static jx_node *expr(parser *P) {
    enter(P);
    jx_node *e = binary(P, 0);
    while (is_name(cur(P), "if")) {
        jx_node *c = node(P, JN_COND, cur(P)->pos);
        P->i++;
        c->a = binary(P, 0), c->b = e;
        if (is_name(cur(P), "else")) P->i++, c->c = expr(P);
        e = c;
    }
    P->depth--;
    return e;
}

/* An expression or a bare tuple `a, b` (for targets and {{ a, b }}). */
static jx_node *tuple_expr(parser *P, int names_only) {
    size_t pos = cur(P)->pos, cap = 0;
    jx_node *first = names_only ? primary(P) : expr(P);
    if (!is_op(cur(P), ",")) return first;
    jx_node *t = node(P, JN_TUPLE, pos);
    add_kid(P, t, first, &cap);
    while (is_op(cur(P), ",")) {
        P->i++;
        if (cur(P)->t == JT_END || is_name(cur(P), "in") || is_op(cur(P), "=")) break;
        add_kid(P, t, names_only ? primary(P) : expr(P), &cap);
    }
    return t;
}

static void end_tag(parser *P) {
    if (cur(P)->t != JT_END) unexpected(P, "end of tag");
    P->i++;
}

static jx_node *body(parser *P, const char *const *stops, const jx_tok **stopped);

static const char *const IF_STOPS[] = {"elif", "else", "endif", NULL}, *const ENDIF[] = {"endif", NULL},
                         *const FOR_STOPS[] = {"else", "endfor", NULL}, *const ENDFOR[] = {"endfor", NULL},
                         *const ENDSET[] = {"endset", NULL}, *const ENDMACRO[] = {"endmacro", NULL},
                         *const ENDGEN[] = {"endgeneration", NULL};

static jx_node *stmt_if(parser *P, size_t pos) {
    jx_node *n = node(P, JN_IF, pos);
    const jx_tok *st;
    n->a = expr(P);
    end_tag(P);
    n->b = body(P, IF_STOPS, &st);
    if (is_name(st, "elif")) {
        n->c = stmt_if(P, st->pos);
        return n;
    }
    if (is_name(st, "else")) {
        end_tag(P);
        n->c = body(P, ENDIF, &st);
    }
    end_tag(P);
    return n;
}

static jx_node *stmt_for(parser *P, size_t pos) {
    jx_node *n = node(P, JN_FOR, pos);
    const jx_tok *st;
    n->a = tuple_expr(P, 1);
    if (!is_name(cur(P), "in")) unexpected(P, "'in'");
    P->i++;
    n->b = binary(P, 0);
    if (is_name(cur(P), "if")) P->i++, n->d = expr(P);
    if (is_name(cur(P), "recursive")) jx_fail(P->c, RT_ERR_UNSUPPORTED, cur(P)->pos, "recursive loops are not supported");
    end_tag(P);
    jx_node *loop = body(P, FOR_STOPS, &st);
    if (is_name(st, "else")) {
        end_tag(P);
        n->c = body(P, ENDFOR, &st);
    }
    end_tag(P);
    n->kids = jx_alloc(P->c, sizeof *n->kids);
    n->kids[0] = loop;
    n->n_kids = 1;
    return n;
}

static jx_node *stmt_set(parser *P, size_t pos) {
    jx_node *n = node(P, JN_SET, pos);
    const jx_tok *st;
    n->a = tuple_expr(P, 1);
    if (is_op(cur(P), ".")) {
        P->i++;
        const jx_tok *attr = expect_name(P);
        n->s = attr->s, n->n = attr->n;
    }
    if (n->a->k != JN_NAME && !(n->a->k == JN_TUPLE && !n->s)) unexpected(P, "a name to assign");
    if (is_op(cur(P), "=")) {
        P->i++;
        n->b = tuple_expr(P, 0);
        end_tag(P);
        return n;
    }
    if (n->a->k != JN_NAME || n->s) unexpected(P, "'='");
    end_tag(P);
    n->k = JN_SET_BLOCK;
    n->b = body(P, ENDSET, &st);
    end_tag(P);
    return n;
}

static jx_node *stmt_macro(parser *P, size_t pos) {
    jx_node *n = node(P, JN_MACRO, pos);
    const jx_tok *name = expect_name(P), *st;
    size_t cap = 0;
    n->s = name->s, n->n = name->n;
    expect_op(P, "(");
    while (!is_op(cur(P), ")")) {
        if (n->n_kids) expect_op(P, ",");
        const jx_tok *pn = expect_name(P);
        jx_node *p = node(P, JN_KWARG, pn->pos);
        p->s = pn->s, p->n = pn->n;
        if (is_op(cur(P), "=")) P->i++, p->a = expr(P);
        add_kid(P, n, p, &cap);
    }
    P->i++;
    end_tag(P);
    n->a = body(P, ENDMACRO, &st);
    end_tag(P);
    return n;
}

static jx_node *statement(parser *P) {
    const jx_tok *name = expect_name(P);
    size_t pos = name->pos;
    if (is_name(name, "if")) return stmt_if(P, pos);
    if (is_name(name, "for")) return stmt_for(P, pos);
    if (is_name(name, "set")) return stmt_set(P, pos);
    if (is_name(name, "macro")) return stmt_macro(P, pos);
    if (is_name(name, "break") || is_name(name, "continue")) {
        end_tag(P);
        return node(P, is_name(name, "break") ? JN_BREAK : JN_CONTINUE, pos);
    }
    if (is_name(name, "generation")) {
        const jx_tok *st;
        end_tag(P);
        jx_node *b = body(P, ENDGEN, &st);
        end_tag(P);
        return b;
    }
    jx_fail(P->c, RT_ERR_UNSUPPORTED, pos, "unsupported tag '%.*s'", (int)name->n, name->s);
}

static jx_node *body(parser *P, const char *const *stops, const jx_tok **stopped) {
    enter(P);
    jx_node *b = node(P, JN_BODY, cur(P)->pos);
    size_t cap = 0;
    for (;;) {
        const jx_tok *t = cur(P);
        if (t->t == JT_EOF) {
            size_t last = 0;
            while (stops && stops[last + 1]) last++;
            if (stops) jx_fail(P->c, RT_ERR_FORMAT, t->pos, "unexpected end of template: missing {%% %s %%}", stops[last]);
            break;
        }
        if (t->t == JT_TEXT) {
            jx_node *x = node(P, JN_TEXT, t->pos);
            x->s = t->s, x->n = t->n;
            add_kid(P, b, x, &cap);
            P->i++;
        } else if (t->t == JT_VAR) {
            P->i++;
            jx_node *x = node(P, JN_OUT, t->pos);
            x->a = tuple_expr(P, 0);
            end_tag(P);
            add_kid(P, b, x, &cap);
        } else if (t->t == JT_BLOCK) {
            P->i++;
            const jx_tok *name = cur(P);
            for (size_t k = 0; stops && stops[k]; k++)
                if (is_name(name, stops[k])) {
                    P->i++;
                    *stopped = name;
                    P->depth--;
                    return b;
                }
            add_kid(P, b, statement(P), &cap);
        } else {
            unexpected(P, "text or a tag");
        }
    }
    P->depth--;
    return b;
}

jx_node *jx_parse(jx_ctx *c, const jx_tok *toks, size_t n) {
    parser P = {.c = c, .t = toks, .n = n};
    return body(&P, NULL, NULL);
}
