/* jinja.h: the Jinja subset chat templates are written in, shared by src/tok/jinja_*.c only.
 *
 * A template is lexed (jinja_lex.c) and parsed (jinja_parse.c) into a tree, then run (jinja_eval.c)
 * with values (jinja_value.c) and the filters, tests and methods of jinja_builtins.c. Semantics follow
 * Python Jinja2 as transformers configures it (ImmutableSandboxedEnvironment, trim_blocks,
 * lstrip_blocks, loopcontrols, tojson as json.dumps with ensure_ascii=False).
 *
 * Every allocation of one render comes from one arena with a byte cap, and every error longjmps back
 * to rt_tok_jinja_render, so nothing is freed piecemeal and a hostile template cannot leak or run away:
 * the arena, the output, the loop iterations and the nesting depth all have hard limits. */
#ifndef RT_TOK_JINJA_H
#define RT_TOK_JINJA_H

#include <setjmp.h>
#include <stdint.h>

#include "tok/tok_internal.h"

#define JX_MAX_ARENA (64u << 20)   /* bytes of values, nodes and strings per render */
#define JX_MAX_OUTPUT (16u << 20)  /* bytes of rendered text */
#define JX_MAX_STEPS 1000000       /* loop iterations and macro calls, all together */
#define JX_MAX_DEPTH 128           /* nesting of expressions, blocks and macro calls */

typedef enum { JV_UNDEF, JV_NONE, JV_BOOL, JV_INT, JV_FLOAT, JV_STR, JV_LIST, JV_DICT, JV_FUNC, JV_MACRO, JV_LOOP } jv_type;

typedef struct jx_list jx_list;
typedef struct jx_dict jx_dict;
typedef struct jx_loop jx_loop;
typedef struct jx_node jx_node;

typedef struct {
    jv_type t;
    union {
        int64_t i;         /* JV_BOOL (0/1), JV_INT, JV_FUNC (builtin index) */
        double f;
        struct {
            const char *s; /* UTF-8, not NUL-terminated */
            size_t n;
        } s;               /* JV_STR; JV_UNDEF: the name that was missing (for messages) */
        jx_list *l;
        jx_dict *d;
        const jx_node *m;  /* JV_MACRO */
        jx_loop *loop;
    } u;
} jv;

struct jx_list {
    jv *v;
    size_t n, cap;
    int tuple;    /* printed as (a, b) */
    int iterator; /* stands for a Jinja generator (map, select, reverse, ...): true even when empty */
};

struct jx_dict {
    jv *k, *v;
    size_t n, cap;
    int ns; /* a namespace(): attributes may be assigned */
};

struct jx_loop {
    size_t index0, length;
    const jv *items;
};

typedef struct jx_ctx jx_ctx;

/* ---- arena, errors ---- */
void *jx_alloc(jx_ctx *c, size_t n);

/* A growable string in the arena (growing leaves the old copy behind: amortized 2x). */
typedef struct {
    char *p;
    size_t n, cap;
} jx_buf;
void jx_buf_put(jx_ctx *c, jx_buf *b, const char *s, size_t n);
void jx_buf_puts(jx_ctx *c, jx_buf *b, const char *s);
/* Sets the error (message prefixed with the template's name and line:column of `pos`) and longjmps. */
_Noreturn void jx_fail(jx_ctx *c, rt_status code, size_t pos, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Counts one loop iteration or call against JX_MAX_STEPS. */
void jx_step(jx_ctx *c, size_t pos);

/* ---- values (jinja_value.c) ---- */
jv jv_undef(const char *name);
jv jv_none(void);
jv jv_bool(int b);
jv jv_int(int64_t i);
jv jv_float(double f);
jv jv_str(const char *s, size_t n); /* s is not copied */
jv jv_cstr(const char *s);
jv jv_str_copy(jx_ctx *c, const char *s, size_t n);
jv jv_list_new(jx_ctx *c, size_t cap);
jv jv_dict_new(jx_ctx *c, size_t cap);
void jv_list_push(jx_ctx *c, jv *list, jv v);
/* Inserts or overwrites (insertion order kept, as Python dicts do). */
void jv_dict_set(jx_ctx *c, jv *dict, jv key, jv v);
/* NULL when absent. */
jv *jv_dict_get(const jv *dict, const char *key, size_t n);
int jv_truthy(jv v);
int jv_equal(jv a, jv b);
/* Python's str(v) appended to b (undefined prints nothing). */
void jv_to_str(jx_ctx *c, jv v, jx_buf *b);
jv jv_stringify(jx_ctx *c, jv v);
/* json.dumps(v, ensure_ascii=False, indent=indent) (indent < 0: none). */
void jv_to_json(jx_ctx *c, jv v, int indent, size_t pos, jx_buf *b);
const char *jv_type_name(jv v);
/* Code points in a UTF-8 string; the byte offset of code point k. */
size_t jx_utf8_count(const char *s, size_t n);
size_t jx_utf8_offset(const char *s, size_t n, size_t k);
/* Python's str.isspace for one code point. */
int jx_py_space(int32_t cp);

/* ---- lexer (jinja_lex.c) ---- */
typedef enum { JT_TEXT, JT_VAR, JT_BLOCK, JT_END, JT_NAME, JT_STRING, JT_INT, JT_FLOAT, JT_OP, JT_EOF } jt_type;

typedef struct {
    jt_type t;
    const char *s; /* text, name, op or decoded string */
    size_t n;
    size_t pos;    /* byte offset in the source, for messages */
    int64_t i;
    double f;
} jx_tok;

/* Tokens of the whole template (whitespace control applied to the text tokens). */
void jx_lex(jx_ctx *c, const char *src, size_t n, jx_tok **out, size_t *n_out);

/* ---- parser (jinja_parse.c) ---- */
typedef enum {
    /* expressions */
    JN_LIT, JN_NAME, JN_ATTR, JN_ITEM, JN_SLICE, JN_CALL, JN_FILTER, JN_TEST, JN_BIN, JN_NOT, JN_NEG, JN_POS,
    JN_AND, JN_OR, JN_COND, JN_LIST, JN_TUPLE, JN_DICT, JN_KWARG,
    /* statements */
    JN_BODY, JN_TEXT, JN_OUT, JN_IF, JN_FOR, JN_SET, JN_SET_BLOCK, JN_MACRO, JN_BREAK, JN_CONTINUE
} jn_kind;

struct jx_node {
    jn_kind k;
    size_t pos;
    const char *s;    /* name, operator, filter/test/attribute name, text */
    size_t n;
    jv lit;           /* JN_LIT */
    jx_node *a, *b, *c, *d; /* operands / condition, body, else / target, iterable, filter */
    jx_node **kids;   /* arguments, items, statements, macro parameters */
    size_t n_kids;
    int neg;          /* JN_TEST: `is not` */
};

jx_node *jx_parse(jx_ctx *c, const jx_tok *toks, size_t n);

/* ---- evaluation (jinja_eval.c, jinja_builtins.c) ---- */
struct jx_ctx {
    jmp_buf jmp;
    const char *where;    /* template name for messages */
    const char *src;      /* normalized source, for line:column */
    size_t src_n;
    char *arena;          /* current chunk */
    size_t arena_used, arena_cap, arena_total;
    void *chunks;         /* list of chunks to free */
    rt_status status;
    size_t steps;
    int depth;
    int brk;              /* 1 after {% break %}, 2 after {% continue %}, until the loop sees it */
    jx_buf *out;          /* where output goes (a macro call renders into its own) */
    struct jx_frame *frame;
    struct jx_frame *root;
};

struct jx_frame {
    const char **names;
    size_t *lens;
    jv *vals;
    size_t n, cap;
    struct jx_frame *parent;
};

/* Arguments of a call: positional then keyword. */
typedef struct {
    jv *pos;
    size_t n_pos;
    const char **kw;
    size_t *kw_n;
    jv *kw_v;
    size_t n_kw;
} jx_args;
jv jx_eval(jx_ctx *c, const jx_node *e);
void jx_exec(jx_ctx *c, const jx_node *s);
/* Variables: frames are searched innermost first, then the builtin functions. */
jv jx_lookup(jx_ctx *c, const char *name, size_t n);
void jx_bind(jx_ctx *c, const char *name, size_t n, jv v);
void jx_push_frame(jx_ctx *c, struct jx_frame *f, struct jx_frame *parent);
jv jx_call_macro(jx_ctx *c, const jx_node *m, const jx_args *a, size_t pos);
/* Python's a OP b for the arithmetic and comparison operators. */
jv jx_binop(jx_ctx *c, const char *op, jv a, jv b, size_t pos);
/* Fails for using the undefined value u (naming the missing name where known), as Jinja's
 * StrictUndefined-like operations do: arithmetic, attributes of it, int(), float(). */
_Noreturn void jx_undefined_error(jx_ctx *c, jv u, size_t pos);
void jx_enter(jx_ctx *c, size_t pos);
void jx_leave(jx_ctx *c);
jx_args jx_eval_args(jx_ctx *c, const jx_node *call, size_t first, jv *prepend);
jv jx_filter(jx_ctx *c, const char *name, size_t n, jv v, const jx_args *a, size_t pos);
int jx_test(jx_ctx *c, const char *name, size_t n, jv v, const jx_args *a, size_t pos);
jv jx_method(jx_ctx *c, jv self, const char *name, size_t n, const jx_args *a, size_t pos);
jv jx_call_global(jx_ctx *c, int fn, const jx_args *a, size_t pos);
/* The items a for loop or a filter walks: a list's items, a dict's keys, a string's characters
 * (code points), nothing for undefined; anything else fails naming its type (jinja_filters.c). */
jv jx_as_list(jx_ctx *c, jv v, size_t pos);
/* Argument i, or the keyword argument `kw` (may be NULL), or NULL. */
jv *jx_arg(const jx_args *a, size_t i, const char *kw);
/* Python's strip family (chars NULL: whitespace), replace. */
jv jx_strip(jv s, const jv *chars, int left, int right);
/* Python's str.upper/lower/title/capitalize ('u', 'l', 't', 'c') and Jinja's title filter ('j')
 * over Unicode (jinja_case.c). */
jv jx_case(jx_ctx *c, jv s, int mode);
typedef struct {
    int32_t cp, upper[3], lower[3], title[3]; /* a mapping shorter than 3 ends at the first 0 */
} jx_case_row;
extern const jx_case_row jx_case_rows[]; /* the one-to-many mappings, sorted (jinja_case_table.c) */
extern const size_t jx_n_case_rows;
jv jx_replace(jx_ctx *c, jv s, jv old, jv new_, int64_t count);
/* The builtin function named so, or -1. */
int jx_global_index(const char *name, size_t n);
jv jx_getattr(jx_ctx *c, jv obj, const char *name, size_t n, size_t pos);
jv jx_getitem(jx_ctx *c, jv obj, jv key, size_t pos);

/* ---- the entry point ---- */
/* Binds a top-level variable (in the `setup` callback of rt_tok_jinja_render). */
void jx_set_var(jx_ctx *c, const char *name, jv v);

/* Renders `tmpl` into a new NUL-terminated string; `setup` binds the variables. Errors name `where` and
 * the line:column of the construct. */
rt_status rt_tok_jinja_render(const char *tmpl, const char *where, void (*setup)(jx_ctx *c, const void *arg),
                              const void *arg, char **out);

#endif
