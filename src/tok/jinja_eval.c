/* jinja_eval.c: running a parsed template: the arena and error exit, variable frames (a for loop's
 * body starts each iteration from the enclosing scope, as in Jinja2, so `set` inside a loop does not
 * leak out: that is what namespace() is for), statements, macros, and the entry point. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok/jinja.h"

typedef struct chunk {
    struct chunk *next;
} chunk;

void *jx_alloc(jx_ctx *c, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (n > JX_MAX_ARENA || c->arena_total + n > JX_MAX_ARENA)
        jx_fail(c, RT_ERR_UNSUPPORTED, 0, "the template uses more than %u bytes of memory", JX_MAX_ARENA);
    if (c->arena_used + n > c->arena_cap) {
        size_t cap = n > 65536 ? n : 65536;
        chunk *k = malloc(sizeof(chunk) + 16 + cap);
        if (!k) jx_fail(c, RT_ERR_NOMEM, 0, "out of memory");
        k->next = c->chunks;
        c->chunks = k;
        c->arena = (char *)k + ((sizeof(chunk) + 15) & ~(size_t)15);
        c->arena_used = 0;
        c->arena_cap = cap;
    }
    void *p = c->arena + c->arena_used;
    memset(p, 0, n);
    c->arena_used += n;
    c->arena_total += n;
    return p;
}

_Noreturn void jx_fail(jx_ctx *c, rt_status code, size_t pos, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int line = 1, col = 1;
    for (size_t i = 0; i < pos && i < c->src_n; i++) {
        if (c->src[i] == '\n') line++, col = 1;
        else if (((unsigned char)c->src[i] & 0xC0) != 0x80) col++;
    }
    if (pos) rt_fail(code, "%s:%d:%d: %s", c->where, line, col, msg);
    else rt_fail(code, "%s: %s", c->where, msg);
    c->status = code;
    longjmp(c->jmp, 1);
}

void jx_step(jx_ctx *c, size_t pos) {
    if (++c->steps > JX_MAX_STEPS)
        jx_fail(c, RT_ERR_UNSUPPORTED, pos, "the template runs more than %d loop iterations and calls", JX_MAX_STEPS);
}

void jx_enter(jx_ctx *c, size_t pos) {
    if (++c->depth > JX_MAX_DEPTH) jx_fail(c, RT_ERR_UNSUPPORTED, pos, "the template nests deeper than %d", JX_MAX_DEPTH);
}

void jx_leave(jx_ctx *c) { c->depth--; }

void jx_push_frame(jx_ctx *c, struct jx_frame *f, struct jx_frame *parent) {
    memset(f, 0, sizeof *f);
    f->parent = parent;
    c->frame = f;
}

jv jx_lookup(jx_ctx *c, const char *name, size_t n) {
    for (struct jx_frame *f = c->frame; f; f = f->parent)
        for (size_t i = f->n; i-- > 0;)
            if (f->lens[i] == n && !memcmp(f->names[i], name, n)) return f->vals[i];
    int g = jx_global_index(name, n);
    if (g >= 0) return (jv){.t = JV_FUNC, .u.i = g};
    jv u = jv_undef(NULL);
    u.u.s.s = name, u.u.s.n = n;
    return u;
}

void jx_bind(jx_ctx *c, const char *name, size_t n, jv v) {
    struct jx_frame *f = c->frame;
    for (size_t i = 0; i < f->n; i++)
        if (f->lens[i] == n && !memcmp(f->names[i], name, n)) {
            f->vals[i] = v;
            return;
        }
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 8;
        const char **nn = jx_alloc(c, cap * sizeof *nn);
        size_t *nl = jx_alloc(c, cap * sizeof *nl);
        jv *nv = jx_alloc(c, cap * sizeof *nv);
        if (f->n) {
            memcpy(nn, f->names, f->n * sizeof *nn);
            memcpy(nl, f->lens, f->n * sizeof *nl);
            memcpy(nv, f->vals, f->n * sizeof *nv);
        }
        f->names = nn, f->lens = nl, f->vals = nv, f->cap = cap;
    }
    f->names[f->n] = name, f->lens[f->n] = n, f->vals[f->n++] = v;
}

void jx_set_var(jx_ctx *c, const char *name, jv v) { jx_bind(c, name, strlen(name), v); }

static void emit(jx_ctx *c, const char *s, size_t n, size_t pos) {
    if (c->out->n + n > JX_MAX_OUTPUT)
        jx_fail(c, RT_ERR_UNSUPPORTED, pos, "the template renders more than %u bytes", JX_MAX_OUTPUT);
    jx_buf_put(c, c->out, s, n);
}

/* Binds a for/set target (a name or a tuple of names) to v. */
static void assign(jx_ctx *c, const jx_node *target, jv v) {
    if (target->k == JN_NAME) return jx_bind(c, target->s, target->n, v);
    if (target->k != JN_TUPLE) jx_fail(c, RT_ERR_FORMAT, target->pos, "cannot assign to this expression");
    if (v.t != JV_LIST || v.u.l->n != target->n_kids)
        jx_fail(c, RT_ERR_FORMAT, target->pos, "cannot unpack %s into %zu names", jv_type_name(v), target->n_kids);
    for (size_t i = 0; i < target->n_kids; i++) assign(c, target->kids[i], v.u.l->v[i]);
}

static void exec_for(jx_ctx *c, const jx_node *s) {
    jv items = jx_as_list(c, jx_eval(c, s->b), s->b->pos);
    struct jx_frame f, *outer = c->frame;
    if (s->d) { /* `for x in xs if cond`: the loop sees only the items that pass */
        jv kept = jv_list_new(c, items.u.l->n);
        for (size_t i = 0; i < items.u.l->n; i++) {
            jx_step(c, s->pos);
            jx_push_frame(c, &f, outer);
            assign(c, s->a, items.u.l->v[i]);
            if (jv_truthy(jx_eval(c, s->d))) jv_list_push(c, &kept, items.u.l->v[i]);
            c->frame = outer;
        }
        items = kept;
    }
    jx_loop *loop = jx_alloc(c, sizeof *loop);
    loop->length = items.u.l->n;
    loop->items = items.u.l->v;
    for (size_t i = 0; i < items.u.l->n; i++) {
        jx_step(c, s->pos);
        loop->index0 = i;
        jx_push_frame(c, &f, outer);
        jx_bind(c, "loop", 4, (jv){.t = JV_LOOP, .u.loop = loop});
        assign(c, s->a, items.u.l->v[i]);
        jx_exec(c, s->kids[0]);
        c->frame = outer;
        int brk = c->brk;
        c->brk = 0;
        if (brk == 1) break;
    }
    if (!items.u.l->n && s->c) jx_exec(c, s->c);
}

static void exec_set(jx_ctx *c, const jx_node *s) {
    if (s->k == JN_SET_BLOCK) {
        jx_buf b = {0}, *saved = c->out;
        jx_buf_put(c, &b, "", 0);
        c->out = &b;
        jx_exec(c, s->b);
        c->out = saved;
        return jx_bind(c, s->a->s, s->a->n, jv_str(b.p, b.n));
    }
    jv v = jx_eval(c, s->b);
    if (!s->s) return assign(c, s->a, v);
    jv ns = jx_lookup(c, s->a->s, s->a->n);
    if (ns.t != JV_DICT || !ns.u.d->ns)
        jx_fail(c, RT_ERR_FORMAT, s->pos, "cannot assign attribute on non-namespace object '%.*s'", (int)s->a->n, s->a->s);
    jv_dict_set(c, &ns, jv_str(s->s, s->n), v);
}

jv jx_call_macro(jx_ctx *c, const jx_node *m, const jx_args *a, size_t pos) {
    jx_step(c, pos);
    jx_enter(c, pos);
    if (a->n_pos > m->n_kids) jx_fail(c, RT_ERR_FORMAT, pos, "macro '%.*s' takes %zu arguments", (int)m->n, m->s, m->n_kids);
    struct jx_frame f, *saved_frame = c->frame;
    jx_push_frame(c, &f, c->root);
    for (size_t i = 0; i < m->n_kids; i++) {
        const jx_node *p = m->kids[i];
        jv v = i < a->n_pos ? a->pos[i] : p->a ? jx_eval(c, p->a) : jv_undef(NULL);
        for (size_t k = 0; k < a->n_kw; k++)
            if (a->kw_n[k] == p->n && !memcmp(a->kw[k], p->s, p->n)) v = a->kw_v[k];
        if (v.t == JV_UNDEF) v.u.s.s = p->s, v.u.s.n = p->n;
        jx_bind(c, p->s, p->n, v);
    }
    jx_buf b = {0}, *saved_out = c->out;
    jx_buf_put(c, &b, "", 0);
    c->out = &b;
    jx_exec(c, m->a);
    c->out = saved_out;
    c->frame = saved_frame;
    c->brk = 0;
    jx_leave(c);
    return jv_str(b.p, b.n);
}

void jx_exec(jx_ctx *c, const jx_node *s) {
    jx_enter(c, s->pos);
    switch (s->k) {
    case JN_BODY:
        for (size_t i = 0; i < s->n_kids && !c->brk; i++) jx_exec(c, s->kids[i]);
        break;
    case JN_TEXT: emit(c, s->s, s->n, s->pos); break;
    case JN_OUT: {
        jv v = jx_eval(c, s->a);
        if (v.t == JV_STR) emit(c, v.u.s.s, v.u.s.n, s->pos);
        else {
            jv t = jv_stringify(c, v);
            emit(c, t.u.s.s, t.u.s.n, s->pos);
        }
        break;
    }
    case JN_IF:
        if (jv_truthy(jx_eval(c, s->a))) jx_exec(c, s->b);
        else if (s->c) jx_exec(c, s->c);
        break;
    case JN_FOR: exec_for(c, s); break;
    case JN_SET: case JN_SET_BLOCK: exec_set(c, s); break;
    case JN_MACRO: jx_bind(c, s->s, s->n, (jv){.t = JV_MACRO, .u.m = s}); break;
    case JN_BREAK: c->brk = 1; break;
    case JN_CONTINUE: c->brk = 2; break;
    default: jx_fail(c, RT_ERR_FORMAT, s->pos, "not a statement");
    }
    jx_leave(c);
}

/* The source with \r\n and \r made \n and one trailing newline dropped, as Jinja2 reads it. */
static void normalize(jx_ctx *c, const char *tmpl, size_t n) {
    char *s = jx_alloc(c, n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (tmpl[i] == '\r') {
            s[k++] = '\n';
            if (i + 1 < n && tmpl[i + 1] == '\n') i++;
        } else {
            s[k++] = tmpl[i];
        }
    }
    if (k && s[k - 1] == '\n') k--;
    s[k] = '\0';
    c->src = s;
    c->src_n = k;
}

rt_status rt_tok_jinja_render(const char *tmpl, const char *where, void (*setup)(jx_ctx *c, const void *arg),
                              const void *arg, char **out) {
    *out = NULL;
    jx_ctx *c = calloc(1, sizeof *c);
    if (!c) return rt_fail(RT_ERR_NOMEM, "out of memory");
    c->where = where;
    rt_status s = RT_OK;
    if (setjmp(c->jmp) == 0) {
        normalize(c, tmpl, strlen(tmpl));
        jx_tok *toks;
        size_t n;
        jx_lex(c, c->src, c->src_n, &toks, &n);
        jx_node *root = jx_parse(c, toks, n);
        struct jx_frame *g = jx_alloc(c, sizeof *g);
        jx_push_frame(c, g, NULL);
        c->root = g;
        setup(c, arg);
        jx_buf b = {0};
        jx_buf_put(c, &b, "", 0);
        c->out = &b;
        jx_exec(c, root);
        *out = malloc(b.n + 1);
        if (!*out) jx_fail(c, RT_ERR_NOMEM, 0, "out of memory");
        memcpy(*out, b.p, b.n + 1);
    } else {
        s = c->status;
    }
    for (chunk *k = c->chunks; k;) {
        chunk *next = k->next;
        free(k);
        k = next;
    }
    free(c);
    return s;
}
