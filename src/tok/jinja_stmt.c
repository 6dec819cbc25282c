/* jinja_stmt.c: the template body and its statements: if/elif/else, for (with `if` and else), set
 * (names, `ns.attr`, tuples, blocks), macro, break, continue, and transformers' {% generation %}
 * marker. Anything else is an error naming the tag and its line:column. Expressions: jinja_parse.c. */
#include "tok/jinja_parse.h"

static void end_tag(jx_parser *P) {
    if (jxp_cur(P)->t != JT_END) jxp_unexpected(P, "end of tag");
    P->i++;
}

static jx_node *body(jx_parser *P, const char *const *stops, const jx_tok **stopped);

static const char *const IF_STOPS[] = {"elif", "else", "endif", NULL}, *const ENDIF[] = {"endif", NULL},
                         *const FOR_STOPS[] = {"else", "endfor", NULL}, *const ENDFOR[] = {"endfor", NULL},
                         *const ENDSET[] = {"endset", NULL}, *const ENDMACRO[] = {"endmacro", NULL},
                         *const ENDGEN[] = {"endgeneration", NULL};

static jx_node *stmt_if(jx_parser *P, size_t pos) {
    jx_node *n = jxp_node(P, JN_IF, pos);
    const jx_tok *st;
    n->a = jxp_or(P); /* Jinja parses the test without `x if c else y` */
    end_tag(P);
    n->b = body(P, IF_STOPS, &st);
    if (jxp_is_name(st, "elif")) {
        n->c = stmt_if(P, st->pos);
        return n;
    }
    if (jxp_is_name(st, "else")) {
        end_tag(P);
        n->c = body(P, ENDIF, &st);
    }
    end_tag(P);
    return n;
}

static jx_node *stmt_for(jx_parser *P, size_t pos) {
    jx_node *n = jxp_node(P, JN_FOR, pos);
    const jx_tok *st;
    n->a = jxp_tuple(P, 1);
    if (!jxp_is_name(jxp_cur(P), "in")) jxp_unexpected(P, "'in'");
    P->i++;
    n->b = jxp_or(P);
    if (jxp_is_name(jxp_cur(P), "if")) P->i++, n->d = jxp_expr(P);
    if (jxp_is_name(jxp_cur(P), "recursive")) jx_fail(P->c, RT_ERR_UNSUPPORTED, jxp_cur(P)->pos, "recursive loops are not supported");
    end_tag(P);
    jx_node *loop = body(P, FOR_STOPS, &st);
    if (jxp_is_name(st, "else")) {
        end_tag(P);
        n->c = body(P, ENDFOR, &st);
    }
    end_tag(P);
    n->kids = jx_alloc(P->c, sizeof *n->kids);
    n->kids[0] = loop;
    n->n_kids = 1;
    return n;
}

static jx_node *stmt_set(jx_parser *P, size_t pos) {
    jx_node *n = jxp_node(P, JN_SET, pos);
    const jx_tok *st;
    n->a = jxp_tuple(P, 1);
    if (jxp_is_op(jxp_cur(P), ".")) {
        P->i++;
        const jx_tok *attr = jxp_expect_name(P);
        n->s = attr->s, n->n = attr->n;
    }
    if (n->a->k != JN_NAME && !(n->a->k == JN_TUPLE && !n->s)) jxp_unexpected(P, "a name to assign");
    if (jxp_is_op(jxp_cur(P), "=")) {
        P->i++;
        n->b = jxp_tuple(P, 0);
        end_tag(P);
        return n;
    }
    if (n->a->k != JN_NAME || n->s) jxp_unexpected(P, "'='");
    end_tag(P);
    n->k = JN_SET_BLOCK;
    n->b = body(P, ENDSET, &st);
    end_tag(P);
    return n;
}

static jx_node *stmt_macro(jx_parser *P, size_t pos) {
    jx_node *n = jxp_node(P, JN_MACRO, pos);
    const jx_tok *name = jxp_expect_name(P), *st;
    size_t cap = 0;
    n->s = name->s, n->n = name->n;
    jxp_expect_op(P, "(");
    while (!jxp_is_op(jxp_cur(P), ")")) {
        if (n->n_kids) jxp_expect_op(P, ",");
        const jx_tok *pn = jxp_expect_name(P);
        jx_node *p = jxp_node(P, JN_KWARG, pn->pos);
        p->s = pn->s, p->n = pn->n;
        if (jxp_is_op(jxp_cur(P), "=")) P->i++, p->a = jxp_expr(P);
        jxp_add_kid(P, n, p, &cap);
    }
    P->i++;
    end_tag(P);
    n->a = body(P, ENDMACRO, &st);
    end_tag(P);
    return n;
}

static jx_node *statement(jx_parser *P) {
    const jx_tok *name = jxp_expect_name(P);
    size_t pos = name->pos;
    if (jxp_is_name(name, "if")) return stmt_if(P, pos);
    if (jxp_is_name(name, "for")) return stmt_for(P, pos);
    if (jxp_is_name(name, "set")) return stmt_set(P, pos);
    if (jxp_is_name(name, "macro")) return stmt_macro(P, pos);
    if (jxp_is_name(name, "break") || jxp_is_name(name, "continue")) {
        end_tag(P);
        return jxp_node(P, jxp_is_name(name, "break") ? JN_BREAK : JN_CONTINUE, pos);
    }
    if (jxp_is_name(name, "generation")) {
        const jx_tok *st;
        end_tag(P);
        jx_node *b = body(P, ENDGEN, &st);
        end_tag(P);
        return b;
    }
    jx_fail(P->c, RT_ERR_UNSUPPORTED, pos, "unsupported tag '%.*s'", (int)name->n, name->s);
}

static jx_node *body(jx_parser *P, const char *const *stops, const jx_tok **stopped) {
    jxp_enter(P);
    jx_node *b = jxp_node(P, JN_BODY, jxp_cur(P)->pos);
    size_t cap = 0;
    for (;;) {
        const jx_tok *t = jxp_cur(P);
        if (t->t == JT_EOF) {
            size_t last = 0;
            while (stops && stops[last + 1]) last++;
            if (stops) jx_fail(P->c, RT_ERR_FORMAT, t->pos, "jxp_unexpected end of template: missing {%% %s %%}", stops[last]);
            break;
        }
        if (t->t == JT_TEXT) {
            jx_node *x = jxp_node(P, JN_TEXT, t->pos);
            x->s = t->s, x->n = t->n;
            jxp_add_kid(P, b, x, &cap);
            P->i++;
        } else if (t->t == JT_VAR) {
            P->i++;
            jx_node *x = jxp_node(P, JN_OUT, t->pos);
            x->a = jxp_tuple(P, 0);
            end_tag(P);
            jxp_add_kid(P, b, x, &cap);
        } else if (t->t == JT_BLOCK) {
            P->i++;
            const jx_tok *name = jxp_cur(P);
            for (size_t k = 0; stops && stops[k]; k++)
                if (jxp_is_name(name, stops[k])) {
                    P->i++;
                    *stopped = name;
                    P->depth--;
                    return b;
                }
            jxp_add_kid(P, b, statement(P), &cap);
        } else {
            jxp_unexpected(P, "text or a tag");
        }
    }
    P->depth--;
    return b;
}

jx_node *jx_parse(jx_ctx *c, const jx_tok *toks, size_t n) {
    jx_parser P = {.c = c, .t = toks, .n = n};
    return body(&P, NULL, NULL);
}
