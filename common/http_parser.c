/*
 * http_parser.c - a strict, re-entrant HTTP/1.x request parser (RFC 9112).
 *
 * How it works
 *   A request is read as a sequence of steps, one per piece of the grammar:
 *   the empty lines before the request line, the method, the target, the
 *   version, each field line's name and value, each chunk's size line, data
 *   and CRLF, the trailers.  A step takes its bytes with one cursor (struct
 *   scan) and returns an int: 0 when it is done (it then names the next
 *   step), HTTP_INCOMPLETE when it ran out of bytes, or the HTTP status
 *   (400, 413, ...) that rejects the request.  A status therefore travels
 *   back unchanged, and the step that found the problem is the one that
 *   names it.
 *
 *   Each section of a request has a byte limit, and the cursor knows it:
 *   asking for a byte past the limit gives that section's status (414 for
 *   the request line, 431 for the header section, 413 for a chunked body)
 *   at once, before those bytes have arrived.  A client cannot make us
 *   wait for the end of an endless line.
 *
 *   Between calls, struct http_parse_state remembers which step comes next
 *   and where it starts.  A step that runs out of bytes is simply run again
 *   on the next call.  The only part of a step that can be long is one run
 *   of like bytes (a token, a target, a field value, a chunk size, a chunk
 *   line's extensions); the state also remembers how far that run got, so
 *   the step skips what it has checked already.
 *
 *   Most requests arrive whole, in one read.  For those, a fast path
 *   (fast_head()) first tries to read the head in one straight pass; at
 *   anything it does not expect it gives up, and the steps parse the
 *   request from its start.  Every status comes from the steps.
 *
 * LESSON: a parser that keeps no state between calls must re-scan every
 * byte already received each time more arrive.  A request sent in n small
 * pieces then costs n times its length: quadratic in its size, and a
 * client can choose n.  Keeping the step and a position is all it takes to
 * make each byte cost the same however the request is split, and the
 * parser stays a pure function of (bytes, state): no I/O, no allocation.
 */
#include "http_parser.h"

#include <stdint.h>
#include <string.h>

/* The cursor: where we are, and how far the current section may go. */
struct scan {
	char *buf;
	size_t pos;	 /* next byte to look at */
	size_t len;	 /* bytes received */
	size_t limit;	 /* this section must end before buf[limit] */
	int over;	 /* the status for a section that passes its limit */
	bool lf_ok;	 /* a bare LF may end a line */
	size_t run_end;	 /* where this step's run stopped on an earlier call */
	size_t run_acc;	 /* the run's value there */
	size_t examined; /* bytes looked at during this call */
};

/* The steps, in the order a request meets them. */
enum step {
	STEP_NEW,	     /* http_parse_state_init() was called */
	STEP_LEAD,	     /* empty lines before the request line */
	STEP_METHOD,	     /* method SP */
	STEP_TARGET,	     /* request-target SP */
	STEP_VERSION,	     /* HTTP-version CRLF */
	STEP_FIELD,	     /* field-name ":", or the empty line */
	STEP_FIELD_VALUE,    /* field-value CRLF */
	STEP_LENGTH_BODY,    /* Content-Length bytes */
	STEP_CHUNK_SIZE,     /* chunk-size */
	STEP_CHUNK_EXT,	     /* chunk-ext CRLF */
	STEP_CHUNK_DATA,     /* chunk-data */
	STEP_CHUNK_DATA_END, /* the CRLF after chunk-data */
	STEP_TRAILER,	     /* trailer field-name ":", or the empty line */
	STEP_TRAILER_VALUE,  /* trailer field-value CRLF */
	STEP_DONE,	     /* the request is complete */
	STEP_FAILED,	     /* the request was refused */
};

/* Everything a step works with. */
struct parser {
	struct scan s;
	enum step step; /* the step running; st->step once it is done */
	struct http_parse_state *st;
	struct http_request *req;
	const struct http_limits *lim;
	bool gather; /* the second walk over a complete chunked body */
};

/* A method's name with its length, known at compile time: no strlen(). */
#define METHOD(m, name) [m] = { name, sizeof(name) - 1 }

static const struct method_name {
	const char *name;
	size_t len;
} method_names[] = {
	METHOD(HTTP_GET, "GET"),	 METHOD(HTTP_HEAD, "HEAD"),
	METHOD(HTTP_POST, "POST"),	 METHOD(HTTP_PUT, "PUT"),
	METHOD(HTTP_DELETE, "DELETE"),	 METHOD(HTTP_CONNECT, "CONNECT"),
	METHOD(HTTP_OPTIONS, "OPTIONS"), METHOD(HTTP_TRACE, "TRACE"),
	METHOD(HTTP_PATCH, "PATCH"),
};

#undef METHOD

#define NUM_METHODS (sizeof(method_names) / sizeof(method_names[0]))

/* ---- characters ---------------------------------------------------------- */

/*
 * What a byte may be part of, one bit per grammar rule.  A byte's class is
 * one load from the table below, the same price for every byte, where a
 * test such as strchr("\"(),/:;<=>?@[\\]{}", c) walks a string for each
 * one: the loops over tokens, targets and field values spend most of their
 * time on this question, so it is worth a table.
 */
enum char_class {
	CH_TOKEN = 1,  /* tchar (RFC 9110 5.6.2): methods and field names */
	CH_FIELD = 2,  /* field-vchar, SP, HTAB, obs-text (RFC 9110 5.5) */
	CH_TARGET = 4, /* a request-target's: visible, and >= 0x80 */
	CH_HOST = 8,   /* unreserved or sub-delims (RFC 3986 2.2, 2.3) */
};

/*
 * The combinations that occur, named for the table.  clang-format would
 * put each entry of the table on a line of its own; it is kept off here.
 */
/* clang-format off */
#define CTL 0				      /* control: in nothing */
#define WSP CH_FIELD			      /* SP, HTAB */
#define DLM (CH_FIELD | CH_TARGET)	      /* a delimiter, not in a token */
#define SUB (CH_FIELD | CH_TARGET | CH_HOST)  /* a delimiter a host may hold */
#define TOK (CH_TOKEN | CH_FIELD | CH_TARGET) /* a tchar no host holds */
#define TKH (TOK | CH_HOST)		      /* letters, digits, "-._~!$&'*+" */
#define OBS (CH_FIELD | CH_TARGET)	      /* obs-text, >= 0x80 */
#define OBS8 OBS, OBS, OBS, OBS, OBS, OBS, OBS, OBS

/* LESSON: a 256-entry table answers "is this byte allowed here" in one
   load; it is how fast parsers test bytes, and it is still readable. */
static const unsigned char char_classes[256] = {
	/* 0x00-0x1f: controls; only HTAB (0x09) appears, inside values. */
	CTL, CTL, CTL, CTL, CTL, CTL, CTL, CTL,
	CTL, WSP, CTL, CTL, CTL, CTL, CTL, CTL,
	CTL, CTL, CTL, CTL, CTL, CTL, CTL, CTL,
	CTL, CTL, CTL, CTL, CTL, CTL, CTL, CTL,
	/*   SP    !    "    #    $    %    &    '  */
	WSP, TKH, DLM, TOK, TKH, TOK, TKH, TKH,
	/*   (    )    *    +    ,    -    .    /  */
	SUB, SUB, TKH, TKH, SUB, TKH, TKH, DLM,
	/*   0    1    2    3    4    5    6    7  */
	TKH, TKH, TKH, TKH, TKH, TKH, TKH, TKH,
	/*   8    9    :    ;    <    =    >    ?  */
	TKH, TKH, DLM, SUB, DLM, SUB, DLM, DLM,
	/*   @    A    B    C    D    E    F    G  */
	DLM, TKH, TKH, TKH, TKH, TKH, TKH, TKH,
	/*   H    I    J    K    L    M    N    O  */
	TKH, TKH, TKH, TKH, TKH, TKH, TKH, TKH,
	/*   P    Q    R    S    T    U    V    W  */
	TKH, TKH, TKH, TKH, TKH, TKH, TKH, TKH,
	/*   X    Y    Z    [    \    ]    ^    _  */
	TKH, TKH, TKH, DLM, DLM, DLM, TOK, TKH,
	/*   `    a    b    c    d    e    f    g  */
	TOK, TKH, TKH, TKH, TKH, TKH, TKH, TKH,
	/*   h    i    j    k    l    m    n    o  */
	TKH, TKH, TKH, TKH, TKH, TKH, TKH, TKH,
	/*   p    q    r    s    t    u    v    w  */
	TKH, TKH, TKH, TKH, TKH, TKH, TKH, TKH,
	/*   x    y    z    {    |    }    ~  DEL  */
	TKH, TKH, TKH, DLM, TOK, DLM, TKH, CTL,
	/* 0x80-0xff: obs-text, allowed in values and (for the router to
	   judge) in targets. */
	OBS8, OBS8, OBS8, OBS8, OBS8, OBS8, OBS8, OBS8,
	OBS8, OBS8, OBS8, OBS8, OBS8, OBS8, OBS8, OBS8,
};
/* clang-format on */

#undef CTL
#undef WSP
#undef DLM
#undef SUB
#undef TOK
#undef TKH
#undef OBS
#undef OBS8

static bool char_is(unsigned char c, enum char_class cls)
{
	return (char_classes[c] & cls) != 0;
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Returns the first i' >= i such that b[i'] is not of class cls, or end
 * if every byte of b[i..end) is; i <= end.  Four bytes at a time while
 * four are left: the bound is then tested once for four bytes, and each
 * byte costs a load, a table load and a test.
 */
static inline size_t skip_run(const unsigned char *b, size_t i, size_t end,
			      enum char_class cls)
{
	while (end - i >= 4) {
		if (!char_is(b[i], cls))
			return i;
		if (!char_is(b[i + 1], cls))
			return i + 1;
		if (!char_is(b[i + 2], cls))
			return i + 2;
		if (!char_is(b[i + 3], cls))
			return i + 3;
		i += 4;
	}
	while (i < end && char_is(b[i], cls))
		i++;
	return i;
}

static int hex_value(unsigned char c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static unsigned char to_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* tchar: a visible ASCII character but a delimiter. */
static bool is_tchar(unsigned char c)
{
	return char_is(c, CH_TOKEN);
}

static bool is_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* field-vchar, SP or HTAB; bytes >= 0x80 are obs-text. */
static bool is_field_char(unsigned char c)
{
	return char_is(c, CH_FIELD);
}

/* A reg-name's bytes, but for '%', whose escape is checked apart. */
static bool is_host_char(unsigned char c)
{
	return char_is(c, CH_HOST);
}

/*
 * Equal but for ASCII case, a[0..n) and b[0..n): the caller has compared
 * the lengths, so neither needs a strlen().
 */
static bool equal_nocase(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (to_lower((unsigned char)a[i]) !=
		    to_lower((unsigned char)b[i]))
			return false;
	return true;
}

/*
 * Equal but for ASCII case, a[0..n) and lower[0..n), a literal in lower
 * case made of letters, digits, '-', ':' and '/' only: each of those has
 * the 0x20 bit set, and the only other byte that gives it when that bit
 * is set is a control character (or for a letter, the letter in upper
 * case).  a is always a token, a field value or a target, where no
 * control character but HTAB can be, and HTAB | 0x20 is ')', in no
 * literal.  So an OR with 0x20 folds a's case exactly, and does it for 8
 * bytes in one instruction: "content-length" is two compares, not 14
 * rounds of to_lower().
 */
static inline bool equal_lower(const char *a, const char *lower, size_t n)
{
	const uint64_t case8 = 0x2020202020202020u;
	const uint32_t case4 = 0x20202020u;
	uint64_t wa, wl;
	uint32_t ha, hl;

	for (; n >= 8; n -= 8, a += 8, lower += 8) {
		memcpy(&wa, a, 8);
		memcpy(&wl, lower, 8);
		if ((wa | case8) != wl)
			return false;
	}
	if (n >= 4) {
		memcpy(&ha, a, 4);
		memcpy(&hl, lower, 4);
		if ((ha | case4) != hl)
			return false;
		n -= 4;
		a += 4;
		lower += 4;
	}
	for (; n > 0; n--)
		if (((unsigned char)*a++ | 0x20) != (unsigned char)*lower++)
			return false;
	return true;
}

/*
 * A view equal to a string literal lit, ignoring case: no strlen().  lit
 * must be written in lower case ("content-length").
 */
#define VIEW_IS(view, lit)                                                     \
	((view)->len == sizeof(lit) - 1 &&                                     \
	 equal_lower((view)->p, lit, sizeof(lit) - 1))

/* ---- the cursor ---------------------------------------------------------- */

static void scan_section(struct scan *s, size_t limit, int over)
{
	s->limit = limit;
	s->over = over;
}

static size_t add_saturated(size_t a, size_t b)
{
	return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

/*
 * 0 if the next n bytes are here; the section's status if they would pass
 * its limit (whether or not they have arrived); else HTTP_INCOMPLETE.
 */
static int need(struct scan *s, size_t n)
{
	if (s->pos > s->limit || n > s->limit - s->pos)
		return s->over;
	if (n > s->len - s->pos)
		return HTTP_INCOMPLETE;
	s->examined += n;
	return 0;
}

/* Looks at the next byte without taking it. */
static int peek(struct scan *s, unsigned char *c)
{
	int rc = need(s, 1);

	if (rc == 0)
		*c = (unsigned char)s->buf[s->pos];
	return rc;
}

/* Takes the byte want, or rejects the request. */
static inline int take_byte(struct scan *s, unsigned char want)
{
	unsigned char c;
	int rc = peek(s, &c);

	if (rc != 0)
		return rc;
	if (c != want)
		return 400;
	s->pos++;
	return 0;
}

/*
 * A step has at most one run of like bytes, and only that part may be
 * long.  run_start() skips the part of the run an earlier call has checked
 * and returns the value the run had added up to there (0 for a new run);
 * run_stop() records where the run stopped and its value.  A step run
 * again reaches its run at the same place, since the bytes before it have
 * not changed, so the skip is safe.
 */
static size_t run_start(struct scan *s)
{
	if (s->run_end <= s->pos)
		return 0;
	s->pos = s->run_end;
	return s->run_acc;
}

static void run_stop(struct scan *s, size_t acc)
{
	s->run_end = s->pos;
	s->run_acc = acc;
}

/* Eight bytes from p as one word, the first byte in the low bits. */
static inline uint64_t load_word(const unsigned char *p)
{
	uint64_t w;

	memcpy(&w, p, 8); /* one unaligned load, not a call */
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	w = __builtin_bswap64(w);
#endif
	return w;
}

/*
 * The top bit of each byte of w that is below lo (lo <= 128) or a DEL,
 * and perhaps of bytes after such a byte.
 *
 * LESSON: SWAR, "SIMD within a register".  One 64-bit word holds 8 bytes,
 * and one subtraction works on all of them: w - 0x0101...01 * lo borrows
 * into a byte's top bit exactly when that byte is below lo (a byte >= 0x80
 * had its top bit set already, which ~w masks out).  XOR with
 * 0x7f7f...7f turns a DEL into a zero byte, which the same test with
 * lo = 1 finds.  So a word with no control character costs a handful of
 * instructions instead of eight table loads.  A borrow runs from a byte
 * into the next one only, so it can mark a byte after a real match but
 * never one before: the lowest mark is always a real match.
 */
static inline uint64_t marks_below(uint64_t w, unsigned char lo)
{
	const uint64_t ones = 0x0101010101010101u;
	const uint64_t tops = 0x8080808080808080u;
	uint64_t del = w ^ (ones * 0x7f);

	return (((w - ones * lo) & ~w) | ((del - ones) & ~del)) & tops;
}

/*
 * The top bit of each byte of w equal to c, and perhaps of bytes after
 * such a byte: the zero bytes of w XOR c, found as marks_below() finds
 * them.  Again the lowest mark is always a real one.
 */
static inline uint64_t marks_equal(uint64_t w, unsigned char c)
{
	const uint64_t ones = 0x0101010101010101u;
	uint64_t x = w ^ (ones * c);

	return (x - ones) & ~x & (ones * 0x80);
}

/* The index in its word of the first byte m marks (m != 0). */
static inline size_t first_mark(uint64_t m)
{
	return (size_t)__builtin_ctzll(m) / 8;
}

/*
 * Returns the first i' >= i such that b[i'] is below lo, or a DEL, but an
 * HTAB if tab_ok; or the first byte of the last 7 or fewer before end,
 * for the caller to go on one byte at a time.  Eight bytes at a time, and
 * where a word holds such a byte, the mark says which one at once.
 */
static inline size_t find_below(const unsigned char *b, size_t i, size_t end,
				unsigned char lo, bool tab_ok)
{
	uint64_t m;

	/* Not end - i >= 8: that would wrap if i were ever past end. */
	while (i + 8 <= end) {
		m = marks_below(load_word(b + i), lo);
		if (m == 0) {
			i += 8;
			continue;
		}
		i += first_mark(m);
		if (!tab_ok || b[i] != '\t')
			return i;
		i++; /* an HTAB inside a field value: go on after it */
	}
	return i;
}

/*
 * The end of the run of bytes of class cls from b[i], at most end.
 *
 * Field values and targets are most of a request's bytes, and a control
 * character is the only byte they cannot hold (with SP for a target,
 * HTAB allowed in a value): look for one 8 bytes at a time.  Only the
 * last few bytes before end go one by one.  Inline because each caller
 * passes a constant class: the compiler then keeps only the branch that
 * class takes.
 */
static inline size_t class_run_end(const unsigned char *b, size_t i, size_t end,
				   enum char_class cls)
{
	if (cls == CH_FIELD)
		i = find_below(b, i, end, ' ', true);
	else if (cls == CH_TARGET)
		i = find_below(b, i, end, ' ' + 1, false);
	if ((cls != CH_FIELD && cls != CH_TARGET) || i + 8 > end)
		i = skip_run(b, i, end, cls);
	return i;
}

/*
 * Skips the bytes of class cls from s->pos on, and looks at the byte
 * after them: 0 if it is there (s->pos is on it, for the caller to judge),
 * else what need() answers for it.
 *
 * The same as peek() in a loop, but the bounds are worked out once: the
 * run can go as far as the bytes received or the section's limit,
 * whichever comes first.  Checking both for every byte, and counting each
 * byte examined one by one, cost as much as the rest of the loop.  It is
 * inline because each caller passes a constant class: the compiler then
 * keeps only the branch that class takes.
 */
static inline int skip_class(struct scan *s, enum char_class cls)
{
	size_t end = s->len < s->limit ? s->len : s->limit;
	size_t i =
		class_run_end((const unsigned char *)s->buf, s->pos, end, cls);

	s->examined += i - s->pos;
	s->pos = i;
	return need(s, 1); /* the byte after the run */
}

/* Takes the longest run of tchars, possibly empty, as *tok. */
static int take_token(struct scan *s, struct http_str *tok)
{
	int rc;

	tok->p = s->buf + s->pos;
	run_start(s);
	rc = skip_class(s, CH_TOKEN);
	run_stop(s, 0);
	tok->len = (size_t)(s->buf + s->pos - tok->p);
	return rc;
}

/*
 * Takes a line end: CRLF, or a bare LF where s->lf_ok allows it (RFC 9112
 * 2.2 lets a recipient accept one in the start line and fields, which is
 * kind to people typing requests into nc).
 *
 * LESSON: a CR that is not followed by LF is rejected, never read as a
 * line end or as data.  If two parsers on a request's path split lines
 * differently, one of them sees a header field the other does not, and
 * that is how requests get smuggled past a proxy.
 */
static inline int take_eol(struct scan *s)
{
	unsigned char c;
	int rc = peek(s, &c);

	if (rc != 0)
		return rc;
	if (c == '\n' && s->lf_ok) {
		s->pos++;
		return 0;
	}
	if (c != '\r')
		return 400;
	rc = need(s, 2);
	if (rc != 0)
		return rc;
	if (s->buf[s->pos + 1] != '\n')
		return 400;
	s->pos += 2;
	return 0;
}

/* Ends a step: the next one starts where this one stopped. */
static int next_step(struct parser *p, enum step next)
{
	p->step = next;
	return 0;
}

/* ---- request line -------------------------------------------------------- */

/* A view equal to a string literal lit, case and all: no strlen(). */
#define VIEW_EQ(p, n, lit)                                                     \
	((n) == sizeof(lit) - 1 && memcmp(p, lit, sizeof(lit) - 1) == 0)

/*
 * Method names are case-sensitive (RFC 9110 9.1): "get" is not GET.  Each
 * test compares the lengths first, and a memcmp() of a length known when
 * compiling is a load and a compare, not a call into the C library.
 */
static bool method_lookup(const struct http_str *name, enum http_method *m)
{
	const char *p = name->p;
	size_t n = name->len;
	enum http_method found;

	if (VIEW_EQ(p, n, "GET"))
		found = HTTP_GET;
	else if (VIEW_EQ(p, n, "HEAD"))
		found = HTTP_HEAD;
	else if (VIEW_EQ(p, n, "POST"))
		found = HTTP_POST;
	else if (VIEW_EQ(p, n, "PUT"))
		found = HTTP_PUT;
	else if (VIEW_EQ(p, n, "DELETE"))
		found = HTTP_DELETE;
	else if (VIEW_EQ(p, n, "CONNECT"))
		found = HTTP_CONNECT;
	else if (VIEW_EQ(p, n, "OPTIONS"))
		found = HTTP_OPTIONS;
	else if (VIEW_EQ(p, n, "TRACE"))
		found = HTTP_TRACE;
	else if (VIEW_EQ(p, n, "PATCH"))
		found = HTTP_PATCH;
	else
		return false;
	*m = found;
	return true;
}

/*
 * Splits p[0..n) into path and query.  A fragment ('#') is not part of a
 * request-target; if a client sends one anyway it is dropped.  Inline,
 * like authority_is_valid(): for a short target the call was a fifth of
 * the cost.
 */
static inline void split_path_query(struct http_request *req, const char *p,
				    size_t n)
{
	const char *hash = memchr(p, '#', n);
	const char *q;

	if (hash != NULL)
		n = (size_t)(hash - p);
	q = memchr(p, '?', n);
	req->path.p = p;
	req->path.len = q != NULL ? (size_t)(q - p) : n;
	if (q != NULL) {
		req->query.p = q + 1;
		req->query.len = n - req->path.len - 1;
	}
}

/* The query is q[0..n) up to a '#', if there is one. */
static inline void split_query(struct http_request *req, const char *q,
			       size_t n)
{
	const char *hash = memchr(q, '#', n);

	req->query.p = q;
	req->query.len = hash != NULL ? (size_t)(hash - q) : n;
}

/* Checks "[" IPv6address or IPvFuture "]"; returns the byte after ']'. */
static const char *ip_literal_end(const char *p, const char *end)
{
	const char *start = p;

	while (p < end && (is_host_char((unsigned char)*p) || *p == ':'))
		p++;
	if (p == start || p == end || *p != ']')
		return NULL;
	return p + 1;
}

/*
 * Checks a reg-name or IPv4 address; returns the byte after it.  The
 * inner loop is the common case, a name without escapes: one table load
 * and one test per byte, no bounds test (see authority_is_valid()), the
 * escape test only where it stops.
 */
static const char *reg_name_end(const char *p, const char *end)
{
	for (;;) {
		while (is_host_char((unsigned char)*p))
			p++;
		if (p == end || *p != '%')
			return p;
		if (end - p < 3 || hex_value((unsigned char)p[1]) < 0 ||
		    hex_value((unsigned char)p[2]) < 0)
			return NULL;
		p += 3;
	}
}

/*
 * Checks uri-host [ ":" port ] (RFC 9110 7.2, RFC 3986 3.2.2).  A
 * userinfo ("user@"), a path, spaces or any other byte make it invalid.
 * Inline: each caller passes constant flags, and for a short Host such
 * as "localhost:8080" the call cost an eighth of the check.
 *
 * LESSON: a sentinel.  The byte just after the view, a->p[a->len], must
 * be there to read, and be neither a host's byte nor a digit: the loops
 * over the name and the port then stop on it by themselves, and need no
 * test of the bound for every byte.  Every caller has such a byte: a
 * Host value is followed by its line end or the OWS trimmed off it, a
 * target's authority by '/', '?', '#' or the SP after the target.
 */
static inline bool authority_is_valid(const struct http_str *a, bool need_host,
				      bool need_port)
{
	const char *p = a->p;
	const char *end = a->p + a->len;

	if (a->len == 0)
		return !need_host && !need_port;
	if (*p == '[')
		p = ip_literal_end(p + 1, end);
	else
		p = reg_name_end(p, end);
	if (p == NULL || (need_host && p == a->p))
		return false;
	if (p == end)
		return !need_port;
	if (*p++ != ':' || (need_port && p == end))
		return false;
	while (is_digit((unsigned char)*p))
		p++;
	return p == end;
}

/* Case-insensitive test that a view starts with lit, in lower case. */
#define HAS_PREFIX_NOCASE(view, lit)                                           \
	((view)->len >= sizeof(lit) - 1 &&                                     \
	 equal_lower((view)->p, lit, sizeof(lit) - 1))

/*
 * absolute-form, "http://host:port/path?query" (RFC 9112 3.2.2): what a
 * client sends to a proxy, and what every server must accept.  The
 * authority becomes req->host, since the server must then ignore Host.
 */
static int split_absolute_form(struct http_request *req)
{
	const struct http_str *t = &req->target;
	const char *p, *end = t->p + t->len;
	size_t skip;

	if (HAS_PREFIX_NOCASE(t, "http://"))
		skip = sizeof("http://") - 1;
	else if (HAS_PREFIX_NOCASE(t, "https://"))
		skip = sizeof("https://") - 1;
	else
		return 400;
	p = t->p + skip;
	req->host.p = p;
	while (p < end && *p != '/' && *p != '?' && *p != '#')
		p++;
	req->host.len = (size_t)(p - req->host.p);
	if (!authority_is_valid(&req->host, true, false))
		return 400;
	split_path_query(req, p, (size_t)(end - p));
	if (req->path.len == 0) {
		/* "http://host?q" means path "/" (RFC 9110 4.2.3).  Point at
		   the second '/' of "://" so the view stays inside buf. */
		req->path.p = t->p + skip - 1;
		req->path.len = 1;
	}
	return 0;
}

/* Which of the four request-target forms (RFC 9112 3.2) this is. */
static int split_target(struct http_request *req, bool known)
{
	const struct http_str *t = &req->target;

	if (known && req->method == HTTP_CONNECT) {
		/* authority-form, "host:port", is CONNECT's and only its. */
		if (!authority_is_valid(t, true, true))
			return 400;
		req->host = *t;
		req->path.p = t->p;
		return 0;
	}
	if (t->p[0] == '/') {
		split_path_query(req, t->p, t->len);
		return 0;
	}
	if (t->len == 1 && t->p[0] == '*') {
		/* asterisk-form, "OPTIONS *": the server as a whole. */
		if (!known || req->method != HTTP_OPTIONS)
			return 400;
		req->path = *t;
		return 0;
	}
	return split_absolute_form(req);
}

static int take_digit(struct scan *s, int *d)
{
	unsigned char c;
	int rc = peek(s, &c);

	if (rc != 0)
		return rc;
	if (!is_digit(c))
		return 400;
	*d = c - '0';
	s->pos++;
	return 0;
}

/* HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 2.3), case-sensitive. */
static int take_version(struct scan *s, int *major, int *minor)
{
	const char *b = s->buf + s->pos;
	const char *name = "HTTP/";
	int rc = 0;

	/* Nearly always all 8 bytes are here and well-formed: check them at
	   once.  Otherwise byte by byte, which finds the byte that is wrong
	   or the first one missing. */
	if (need(s, 8) == 0 && memcmp(b, name, 5) == 0 &&
	    is_digit((unsigned char)b[5]) && b[6] == '.' &&
	    is_digit((unsigned char)b[7])) {
		*major = b[5] - '0';
		*minor = b[7] - '0';
		s->pos += 8;
		return 0;
	}
	while (*name != '\0' && rc == 0)
		rc = take_byte(s, (unsigned char)*name++);
	if (rc == 0)
		rc = take_digit(s, major);
	if (rc == 0)
		rc = take_byte(s, '.');
	if (rc == 0)
		rc = take_digit(s, minor);
	return rc;
}

/* RFC 9112 2.2: empty lines before the request line are ignored. */
static int step_lead(struct parser *p)
{
	struct scan *s = &p->s;
	unsigned char c;
	int rc;

	run_start(s);
	while ((rc = peek(s, &c)) == 0 && (c == '\r' || c == '\n')) {
		rc = take_eol(s);
		if (rc != 0)
			break;
	}
	run_stop(s, 0);
	if (rc != 0)
		return rc;
	return next_step(p, STEP_METHOD);
}

/*
 * request-line = method SP request-target SP HTTP-version CRLF, with
 * exactly one SP between the parts (RFC 9112 3).
 *
 * The line may hold max_request_line bytes before its line end: the
 * section limit stops the scan at once on a byte past that, so an endless
 * target is a 414 without waiting for its end.  An unknown method is
 * answered 501 later, once the rest of the head has shown that the
 * request is well-formed; until then st->known remembers it.
 */
static int step_method(struct parser *p)
{
	struct http_str name;
	int rc;

	rc = take_token(&p->s, &name);
	if (rc == 0 && name.len == 0)
		rc = 400;
	if (rc == 0)
		rc = take_byte(&p->s, ' ');
	if (rc != 0)
		return rc;
	p->req->method_name = name;
	p->st->known = method_lookup(&name, &p->req->method);
	return next_step(p, STEP_TARGET);
}

static int step_target(struct parser *p)
{
	struct http_request *req = p->req;
	struct scan *s = &p->s;
	int rc;

	req->target.p = s->buf + s->pos;
	run_start(s);
	rc = skip_class(s, CH_TARGET);
	run_stop(s, 0);
	if (rc != 0)
		return rc;
	if (s->buf[s->pos] != ' ')
		return 400; /* a CTL, or a line end too soon */
	req->target.len = (size_t)(s->buf + s->pos - req->target.p);
	if (req->target.len == 0)
		return 400;
	rc = split_target(req, p->st->known);
	if (rc == 0)
		rc = take_byte(s, ' ');
	if (rc != 0)
		return rc;
	return next_step(p, STEP_VERSION);
}

/* The version, the line end, then the header section's limit begins. */
static int step_version(struct parser *p)
{
	const struct http_limits *lim = p->lim;
	struct scan *s = &p->s;
	int major = 0, minor = 0;
	int rc;

	rc = take_version(s, &major, &minor);
	if (rc != 0)
		return rc;
	scan_section(s, add_saturated(lim->max_request_line, 2), 414);
	rc = take_eol(s); /* "HTTP/1.01", "HTTP/1.1 " end here: 400 */
	if (rc != 0)
		return rc;
	/* Well-formed, but not a version we speak. */
	if (major != 1 || minor > 1)
		return 505;
	p->req->version_minor = minor;
	scan_section(s, add_saturated(s->pos, lim->max_header_bytes), 431);
	return next_step(p, STEP_FIELD);
}

/* ---- what the header fields mean ----------------------------------------- */

static inline void trim_ows(struct http_str *v)
{
	while (v->len > 0 && is_ows((unsigned char)v->p[0])) {
		v->p++;
		v->len--;
	}
	while (v->len > 0 && is_ows((unsigned char)v->p[v->len - 1]))
		v->len--;
}

/*
 * Takes the next element of a comma-separated list (RFC 9110 5.6.1) with
 * OWS trimmed.  Empty elements are returned too; false when none is left.
 */
static bool list_next(struct http_str *list, struct http_str *elem)
{
	const char *comma;

	if (list->p == NULL)
		return false;
	comma = memchr(list->p, ',', list->len);
	elem->p = list->p;
	elem->len = comma != NULL ? (size_t)(comma - list->p) : list->len;
	if (comma != NULL) {
		list->len -= elem->len + 1;
		list->p = comma + 1;
	} else {
		list->p = NULL;
		list->len = 0;
	}
	trim_ows(elem);
	return true;
}

/* 1*DIGIT into *out; false if empty, not all digits, or over 64 bits. */
static bool parse_decimal(const struct http_str *s, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (s->len == 0)
		return false;
	for (i = 0; i < s->len; i++) {
		unsigned char c = (unsigned char)s->p[i];

		if (!is_digit(c) || v > (UINT64_MAX - (c - '0')) / 10)
			return false;
		v = v * 10 + (c - '0');
	}
	*out = v;
	return true;
}

/*
 * What the few fields that frame and keep a request say, gathered in one
 * walk over req->headers (every line of each, in order); the checks below
 * only read it.
 */
struct head_fields {
	const struct http_str *host; /* the first Host line's value */
	size_t hosts;		     /* Host lines */
	uint64_t length;	     /* the Content-Length */
	bool has_length;	     /* some Content-Length element */
	bool bad_length;	     /* one not a number, or another number */
	bool has_te;		     /* some Transfer-Encoding line */
	size_t codings;		     /* transfer codings, on all its lines */
	size_t chunked;		     /* how many of them are chunked */
	bool last_is_chunked;	     /* the final coding is chunked */
	bool close;		     /* Connection: close */
	bool keep;		     /* Connection: keep-alive */
	bool continue_100;	     /* Expect: 100-continue */
};

/* The fields the parser acts on; every other one is the caller's. */
enum field_name {
	FIELD_OTHER,
	FIELD_HOST,
	FIELD_CONTENT_LENGTH,
	FIELD_TRANSFER_ENCODING,
	FIELD_CONNECTION,
	FIELD_EXPECT,
};

/*
 * Which of those a field's name is.  Their lengths all differ, so the
 * length alone leaves one candidate, and comparing it stops at the first
 * byte for most other names: a request's "Accept-Language" costs one
 * switch, not five string comparisons.
 */
static enum field_name field_name_of(const struct http_str *name)
{
	switch (name->len) {
	case sizeof("Host") - 1:
		return VIEW_IS(name, "host") ? FIELD_HOST : FIELD_OTHER;
	case sizeof("Expect") - 1:
		return VIEW_IS(name, "expect") ? FIELD_EXPECT : FIELD_OTHER;
	case sizeof("Connection") - 1:
		return VIEW_IS(name, "connection") ? FIELD_CONNECTION
						   : FIELD_OTHER;
	case sizeof("Content-Length") - 1:
		return VIEW_IS(name, "content-length") ? FIELD_CONTENT_LENGTH
						       : FIELD_OTHER;
	case sizeof("Transfer-Encoding") - 1:
		return VIEW_IS(name, "transfer-encoding")
			       ? FIELD_TRANSFER_ENCODING
			       : FIELD_OTHER;
	default:
		return FIELD_OTHER;
	}
}

/*
 * Content-Length = 1*DIGIT (RFC 9110 8.6).  A list ("5, 5") or repeated
 * lines are accepted only when every value is the same number.
 */
static void note_content_length(struct head_fields *f,
				const struct http_str *value)
{
	struct http_str list = *value, elem;
	uint64_t v;

	while (list_next(&list, &elem)) {
		if (!parse_decimal(&elem, &v) ||
		    (f->has_length && v != f->length)) {
			f->bad_length = true;
			return;
		}
		f->length = v;
		f->has_length = true;
	}
}

/* The transfer codings of one Transfer-Encoding line, in order. */
static void note_transfer_encoding(struct head_fields *f,
				   const struct http_str *value)
{
	struct http_str list = *value, elem;

	f->has_te = true;
	while (list_next(&list, &elem)) {
		if (elem.len == 0)
			continue;
		f->codings++;
		f->last_is_chunked = VIEW_IS(&elem, "chunked");
		if (f->last_is_chunked)
			f->chunked++;
	}
}

/* Connection options are case-insensitive tokens (RFC 9112 9.3). */
static void note_connection(struct head_fields *f, const struct http_str *value)
{
	struct http_str list = *value, elem;

	while (list_next(&list, &elem)) {
		if (VIEW_IS(&elem, "close"))
			f->close = true;
		else if (VIEW_IS(&elem, "keep-alive"))
			f->keep = true;
	}
}

static void note_expect(struct head_fields *f, const struct http_str *value)
{
	struct http_str list = *value, elem;

	while (list_next(&list, &elem))
		if (VIEW_IS(&elem, "100-continue"))
			f->continue_100 = true;
}

/* The one walk over the header fields once the head is complete. */
static void gather_fields(const struct http_request *req, struct head_fields *f)
{
	const struct http_header *h;
	size_t i;

	memset(f, 0, sizeof(*f));
	for (i = 0; i < req->num_headers; i++) {
		h = &req->headers[i];
		switch (field_name_of(&h->name)) {
		case FIELD_HOST:
			if (f->hosts++ == 0)
				f->host = &h->value;
			break;
		case FIELD_CONTENT_LENGTH:
			note_content_length(f, &h->value);
			break;
		case FIELD_TRANSFER_ENCODING:
			note_transfer_encoding(f, &h->value);
			break;
		case FIELD_CONNECTION:
			note_connection(f, &h->value);
			break;
		case FIELD_EXPECT:
			note_expect(f, &h->value);
			break;
		case FIELD_OTHER:
			break;
		}
	}
}

/*
 * RFC 9112 3.2: "A server MUST respond with a 400 to any HTTP/1.1 request
 * message that lacks a Host header field and to any request message that
 * contains more than one Host header field line or a Host header field
 * with an invalid field value."
 */
static int check_host(struct http_request *req, const struct head_fields *f)
{
	if (f->hosts > 1)
		return 400;
	if (f->hosts == 0)
		return req->version_minor >= 1 ? 400 : 0;
	if (!authority_is_valid(f->host, false, false))
		return 400;
	if (req->host.p == NULL) /* absolute-form has set it already */
		req->host = *f->host;
	return 0;
}

/*
 * The transfer codings of all Transfer-Encoding lines, in order.  We
 * decode only chunked, so it must be the one and only coding:
 *   - chunked not the final coding (or absent, "gzip"): 400, since the
 *     body's length cannot be determined (RFC 9112 6.3, a MUST);
 *   - chunked twice: 400 (RFC 9112 6.1 forbids it);
 *   - another coding before a final chunked ("gzip, chunked"): the
 *     framing is clear but we cannot decode the body: 501 (RFC 9112 6.1).
 */
static int check_transfer_encoding(struct http_request *req,
				   const struct head_fields *f)
{
	if (!f->last_is_chunked || f->chunked > 1)
		return 400;
	if (f->codings > 1)
		return 501;
	req->chunked = true;
	return 0;
}

/*
 * LESSON: request smuggling.  A body's length can be given two ways,
 * Content-Length and Transfer-Encoding: chunked.  If a proxy believes one
 * and the server the other, the bytes one of them takes for the body are
 * a second request to the other, which the proxy never checked.  So a
 * request with both is rejected (RFC 9112 6.1 lets a server do so, and
 * it is the only safe answer), as is any Transfer-Encoding from an
 * HTTP/1.0 client, whose framing RFC 9112 6.1 calls faulty.
 */
static int check_framing(struct http_request *req, const struct head_fields *f,
			 const struct http_limits *lim, bool known)
{
	int rc;

	if (f->bad_length)
		return 400;
	if (f->has_te) {
		if (f->has_length || req->version_minor == 0)
			return 400;
		rc = check_transfer_encoding(req, f);
		if (rc != 0)
			return rc;
	}
	if (!known)
		return 501;
	if (f->length > lim->max_body)
		return 413; /* before the body arrives: no need to wait */
	req->content_length = (size_t)f->length;
	return 0;
}

/*
 * "close" always wins; HTTP/1.0 stays open only when it asks with
 * "keep-alive".  Expect: only "100-continue" means anything to us, and
 * only from an HTTP/1.1 client (RFC 9110 10.1.1); other expectations are
 * ignored, which RFC 9110 allows (417 is a MAY).
 */
static void set_connection_options(struct http_request *req,
				   const struct head_fields *f)
{
	req->keep_alive = !f->close && (req->version_minor >= 1 || f->keep);
	req->expect_continue = req->version_minor >= 1 && f->continue_100;
}

static size_t max_fields(const struct http_limits *lim)
{
	return lim->max_headers < HTTP_MAX_HEADERS ? lim->max_headers
						   : HTTP_MAX_HEADERS;
}

/* ---- the head ------------------------------------------------------------ */

/*
 * LESSON: in a chunked body every line must end in CRLF.  The bare-LF
 * leniency of the head is not extended here: chunk framing decides where
 * this request ends and the next one begins.  The raw body, framing and
 * trailers included, may take max_body + max_header_bytes bytes, so a
 * stream of empty extensions or tiny chunks is bounded too (413).
 */
static void enter_chunked_body(struct scan *s, const struct http_limits *lim)
{
	size_t raw_max = add_saturated(lim->max_body, lim->max_header_bytes);

	s->lf_ok = false;
	scan_section(s, add_saturated(s->pos, raw_max), 413);
}

/*
 * The empty line has ended the head: what the fields mean, then the body.
 * Limits: the empty lines before the request line and the request line
 * itself count toward max_request_line (414); the field lines and the
 * empty line after them toward max_header_bytes (431).
 */
static int end_head(struct parser *p)
{
	struct http_request *req = p->req;
	struct head_fields f;
	int rc;

	req->header_len = p->s.pos;
	gather_fields(req, &f);
	set_connection_options(req, &f);
	rc = check_host(req, &f);
	if (rc == 0)
		rc = check_framing(req, &f, p->lim, p->st->known);
	if (rc != 0)
		return rc;
	if (!req->chunked)
		return next_step(p, STEP_LENGTH_BODY);
	enter_chunked_body(&p->s, p->lim);
	return next_step(p, STEP_CHUNK_SIZE);
}

/*
 * field-line = field-name ":" OWS field-value OWS (RFC 9112 5), or the
 * empty line that ends the section.  This step takes the name and the
 * colon.  In the head the fields are stored in req->headers (at most
 * max_headers, or 431); the trailers after a chunked body are checked and
 * dropped.
 *
 * LESSON: the name must be followed by the colon at once.  "Host : x" and
 * a line starting with whitespace (obs-fold, a continuation of the line
 * before) are rejected: some parsers would read "Transfer-Encoding :
 * chunked" as a header and others would not, and a request that two
 * parsers frame differently is a smuggled request.  RFC 9112 5.1 and 5.2
 * make the 400 a MUST for the first and allow it for the second.
 */
static int step_field(struct parser *p)
{
	bool trailer = p->step == STEP_TRAILER;
	struct http_request *req = p->req;
	struct scan *s = &p->s;
	struct http_str name;
	unsigned char c;
	int rc;

	rc = peek(s, &c);
	if (rc != 0)
		return rc;
	if (c == '\r' || c == '\n') {
		rc = take_eol(s);
		if (rc != 0)
			return rc;
		return trailer ? next_step(p, STEP_DONE) : end_head(p);
	}
	if (!trailer && req->num_headers >= max_fields(p->lim))
		return 431;
	rc = take_token(s, &name);
	if (rc == 0 && name.len == 0)
		rc = 400; /* obs-fold, ": x", "{: x" */
	if (rc == 0)
		rc = take_byte(s, ':');
	if (rc != 0)
		return rc;
	if (trailer)
		return next_step(p, STEP_TRAILER_VALUE);
	req->headers[req->num_headers].name = name;
	return next_step(p, STEP_FIELD_VALUE);
}

/* The value, with the OWS around it, and the line end. */
static int step_field_value(struct parser *p)
{
	struct http_request *req = p->req;
	struct scan *s = &p->s;
	struct http_str value;
	unsigned char c;
	int rc;

	value.p = s->buf + s->pos;
	run_start(s);
	rc = skip_class(s, CH_FIELD);
	run_stop(s, 0);
	if (rc != 0)
		return rc;
	c = (unsigned char)s->buf[s->pos];
	if (c != '\r' && c != '\n')
		return 400; /* NUL, ESC, DEL, ... */
	value.len = (size_t)(s->buf + s->pos - value.p);
	rc = take_eol(s);
	if (rc != 0)
		return rc;
	if (p->step == STEP_TRAILER_VALUE)
		return next_step(p, STEP_TRAILER);
	trim_ows(&value);
	req->headers[req->num_headers++].value = value;
	return next_step(p, STEP_FIELD);
}

/* ---- the fast path ------------------------------------------------------- */

static void start_request(struct http_parse_state *st, struct http_request *req,
			  const struct http_limits *lim);
static int step_length_body(struct parser *p);

/*
 * LESSON: a fast path beside a slow one.  Most requests arrive whole, in
 * one read, and are plain: no empty lines before them, CRLF line ends,
 * HTTP/1.0 or 1.1, well within the limits.  For those, the functions
 * below read the head in one straight pass, with bounds worked out once
 * per section, and no step is dispatched, saved or resumed.  What makes
 * it safe is the rule they follow: they accept only heads that the steps
 * accept, fill in exactly the fields the steps fill in, and at the first
 * thing they do not expect - a missing byte, a bare LF, a limit, an error
 * of any kind - they give up and the steps parse the request from its
 * start, to give the one answer that counts.  They never reject anything
 * themselves: every status comes from the steps.  What they accept must
 * be a subset of what the steps accept, with the same fields, and the
 * unit tests (which parse each request whole, here, and in pieces, by the
 * steps) and a differential fuzz of the two paths check that it is.
 */

/*
 * The end of the target's run from b[t] (as class_run_end() finds it for
 * CH_TARGET), and in *delim the first '?' or '#' before that end, or the
 * end itself if there is none: the test for those two delimiters rides
 * on the words the run's test loads anyway, where split_path_query()
 * would look for them with two memchr() calls.  Returns end when fewer
 * than 8 bytes are left before the run ends: the steps take it from
 * there.
 */
static inline size_t fast_target_end(const unsigned char *b, size_t t,
				     size_t end, size_t *delim)
{
	size_t i = t, first = SIZE_MAX, stop;
	uint64_t w, m, d;

	while (i + 8 <= end) {
		w = load_word(b + i);
		m = marks_below(w, ' ' + 1);
		d = marks_equal(w, '?') | marks_equal(w, '#');
		if (m != 0) {
			stop = first_mark(m);
			/* Only the delimiters before the stop count. */
			d &= ((uint64_t)1 << (8 * stop)) - 1;
			if (d != 0 && first == SIZE_MAX)
				first = i + first_mark(d);
			i += stop;
			*delim = first != SIZE_MAX ? first : i;
			return i;
		}
		if (d != 0 && first == SIZE_MAX)
			first = i + first_mark(d);
		i += 8;
	}
	*delim = end;
	return end;
}

/*
 * method SP request-target SP "HTTP/1." ("0" / "1") CRLF, all of it
 * within max_request_line bytes before the CRLF, as step_method(),
 * step_target() and step_version() read it.  Returns the index of the
 * byte after the CRLF, or 0 to leave the request to the steps.
 */
static size_t fast_request_line(struct parser *p)
{
	const unsigned char *b = (const unsigned char *)p->s.buf;
	size_t line_max = p->lim->max_request_line;
	size_t end = p->s.len < line_max ? p->s.len : line_max;
	struct http_request *req = p->req;
	size_t i, t, delim;

	i = class_run_end(b, 0, end, CH_TOKEN);
	if (i == 0 || i == end || b[i] != ' ')
		return 0;
	req->method_name.p = p->s.buf;
	req->method_name.len = i;
	p->st->known = method_lookup(&req->method_name, &req->method);
	t = i + 1;
	i = fast_target_end(b, t, end, &delim);
	if (i == t || i == end || b[i] != ' ')
		return 0;
	req->target.p = p->s.buf + t;
	req->target.len = i - t;
	if (b[t] == '/' && !(p->st->known && req->method == HTTP_CONNECT)) {
		/* origin-form: the path ends at the first '?' or '#', and
		   only a '?' starts a query, which a '#' would end. */
		req->path.p = req->target.p;
		req->path.len = delim - t;
		if (delim != i && b[delim] == '?')
			split_query(req, p->s.buf + delim + 1, i - delim - 1);
	} else if (split_target(req, p->st->known) != 0) {
		return 0;
	}
	i++;
	if (end - i < 8 || memcmp(b + i, "HTTP/1.", 7) != 0 ||
	    (b[i + 7] != '0' && b[i + 7] != '1'))
		return 0;
	req->version_minor = b[i + 7] - '0';
	i += 8;
	/* The line end may take the 2 bytes past max_request_line. */
	if (p->s.len - i < 2 || b[i] != '\r' || b[i + 1] != '\n')
		return 0;
	return i + 2;
}

/*
 * The field lines from b[i] and the empty line after them, each ending in
 * CRLF, within max_header_bytes, as step_field() and step_field_value()
 * read them.  Returns the index of the byte after the empty line, or 0.
 */
static size_t fast_field_lines(struct parser *p, size_t i)
{
	const unsigned char *b = (const unsigned char *)p->s.buf;
	size_t limit = add_saturated(i, p->lim->max_header_bytes);
	size_t end = p->s.len < limit ? p->s.len : limit;
	size_t most = max_fields(p->lim);
	struct http_request *req = p->req;
	struct http_header *h;
	size_t n, v;

	for (;;) {
		if (end - i < 2)
			return 0;
		if (b[i] == '\r')
			return b[i + 1] == '\n' ? i + 2 : 0;
		if (req->num_headers >= most)
			return 0;
		n = class_run_end(b, i, end, CH_TOKEN);
		if (n == i || n == end || b[n] != ':')
			return 0;
		v = class_run_end(b, n + 1, end, CH_FIELD);
		if (end - v < 2 || b[v] != '\r' || b[v + 1] != '\n')
			return 0;
		h = &req->headers[req->num_headers++];
		h->name.p = p->s.buf + i;
		h->name.len = n - i;
		h->value.p = p->s.buf + n + 1;
		h->value.len = v - n - 1;
		trim_ows(&h->value);
		i = v + 2;
	}
}

/*
 * The whole head at once, for a request just started.  True if it was
 * read: p->step and p->s are then where the steps would have left them
 * after end_head(), ready for the body.  False if the steps must read it:
 * p, req and st are then as they were.
 */
static bool fast_head(struct parser *p)
{
	struct scan *s = &p->s;
	size_t line_end, head_end;

	line_end = fast_request_line(p);
	head_end = line_end != 0 ? fast_field_lines(p, line_end) : 0;
	s->examined += head_end != 0 ? head_end : line_end;
	if (head_end != 0) {
		s->pos = head_end;
		s->lf_ok = true;
		scan_section(s,
			     add_saturated(line_end, p->lim->max_header_bytes),
			     431);
		if (end_head(p) == 0) {
			/* A body of known length is all here or it is not:
			   this answers INCOMPLETE or finishes the request. */
			if (p->step == STEP_LENGTH_BODY)
				(void)step_length_body(p);
			return true;
		}
	}
	p->st->examined += s->examined;
	s->examined = 0;
	start_request(p->st, p->req, p->lim);
	return false;
}

/* ---- the body ------------------------------------------------------------ */

static int step_length_body(struct parser *p)
{
	struct http_request *req = p->req;
	struct scan *s = &p->s;

	if (req->content_length > s->len - s->pos)
		return HTTP_INCOMPLETE;
	req->body.p = s->buf + s->pos;
	req->body.len = req->content_length;
	s->pos += req->content_length;
	return next_step(p, STEP_DONE);
}

/*
 * chunk-size: hex digits whose value may not take the body past max_body
 * (413, found as soon as the digit that does it arrives, so the value can
 * never overflow).
 */
static int step_chunk_size(struct parser *p)
{
	size_t room = p->lim->max_body - p->st->body_len;
	struct scan *s = &p->s;
	size_t start = s->pos;
	unsigned char c;
	size_t v;
	int rc, h;

	v = run_start(s);
	while ((rc = peek(s, &c)) == 0 && (h = hex_value(c)) >= 0) {
		if ((size_t)h > room || v > (room - (size_t)h) / 16)
			return 413;
		v = v * 16 + (size_t)h;
		s->pos++;
	}
	run_stop(s, v);
	if (rc != 0)
		return rc;
	if (s->pos == start)
		return 400;
	p->st->chunk = v;
	return next_step(p, STEP_CHUNK_EXT);
}

/*
 * chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ) and
 * ext-val = token / quoted-string (RFC 9112 7.1.1).  Extensions are
 * checked one byte at a time and ignored, so a line of them may stop
 * anywhere and go on in the next call from this one value.  Whitespace
 * before the line end is tolerated: it cannot change where the chunk ends.
 */
enum ext_state {
	EXT_BETWEEN,	/* after the size or a whole extension */
	EXT_NAME_BWS,	/* after ';' */
	EXT_NAME,	/* in a name */
	EXT_AFTER_NAME, /* in the BWS after a name */
	EXT_VALUE_BWS,	/* after '=' */
	EXT_TOKEN,	/* in a token value */
	EXT_QUOTED,	/* in a quoted-string */
	EXT_ESCAPE,	/* after a backslash in a quoted-string */
	EXT_END,	/* c is not part of the extensions: the line end? */
	EXT_BAD,	/* c cannot come here: 400 */
};

static enum ext_state ext_next(enum ext_state e, unsigned char c)
{
	switch (e) {
	case EXT_BETWEEN:
		if (is_ows(c))
			return EXT_BETWEEN;
		return c == ';' ? EXT_NAME_BWS : EXT_END;
	case EXT_NAME_BWS:
		if (is_ows(c))
			return EXT_NAME_BWS;
		return is_tchar(c) ? EXT_NAME : EXT_BAD;
	case EXT_NAME:
		return is_tchar(c) ? EXT_NAME : ext_next(EXT_AFTER_NAME, c);
	case EXT_AFTER_NAME:
		if (is_ows(c))
			return EXT_AFTER_NAME;
		return c == '=' ? EXT_VALUE_BWS : ext_next(EXT_BETWEEN, c);
	case EXT_VALUE_BWS:
		if (is_ows(c))
			return EXT_VALUE_BWS;
		if (c == '"')
			return EXT_QUOTED;
		return is_tchar(c) ? EXT_TOKEN : EXT_BAD;
	case EXT_TOKEN:
		return is_tchar(c) ? EXT_TOKEN : ext_next(EXT_BETWEEN, c);
	case EXT_QUOTED:
		if (c == '"')
			return EXT_BETWEEN;
		if (c == '\\')
			return EXT_ESCAPE;
		return is_field_char(c) ? EXT_QUOTED : EXT_BAD; /* qdtext */
	case EXT_ESCAPE:
		return is_field_char(c) ? EXT_QUOTED
					: EXT_BAD; /* quoted-pair */
	default:
		return EXT_BAD;
	}
}

/* chunk-ext CRLF, after the size. */
static int step_chunk_ext(struct parser *p)
{
	struct scan *s = &p->s;
	enum ext_state e = (enum ext_state)run_start(s);
	enum ext_state next;
	unsigned char c;
	int rc;

	while ((rc = peek(s, &c)) == 0) {
		next = ext_next(e, c);
		if (next == EXT_BAD)
			return 400;
		if (next == EXT_END)
			break;
		e = next;
		s->pos++;
	}
	run_stop(s, e);
	if (rc == 0)
		rc = take_eol(s);
	if (rc != 0)
		return rc;
	if (p->st->chunk == 0)
		return next_step(p, STEP_TRAILER);
	return next_step(p, STEP_CHUNK_DATA);
}

/*
 * chunk-data.  On the second walk over a complete body (p->gather), each
 * chunk's data is also moved down to follow the previous one's; that only
 * ever writes over framing bytes already read, so the walk itself is not
 * disturbed.
 */
static int step_chunk_data(struct parser *p)
{
	struct http_parse_state *st = p->st;
	struct scan *s = &p->s;
	int rc = need(s, st->chunk);

	if (rc != 0)
		return rc;
	if (p->gather)
		memmove(s->buf + p->req->header_len + st->body_len,
			s->buf + s->pos, st->chunk);
	s->pos += st->chunk;
	st->body_len += st->chunk;
	return next_step(p, STEP_CHUNK_DATA_END);
}

static int step_chunk_data_end(struct parser *p)
{
	int rc = take_eol(&p->s);

	if (rc != 0)
		return rc;
	return next_step(p, STEP_CHUNK_SIZE);
}

/* ---- one call ------------------------------------------------------------ */

/*
 * Runs the step st names.  A switch rather than a table of function
 * pointers: the compiler can then inline the steps into run_steps(), and
 * a field line, two steps, costs no calls through a pointer.
 */
static int run_step(struct parser *p)
{
	switch (p->step) {
	case STEP_LEAD:
		return step_lead(p);
	case STEP_METHOD:
		return step_method(p);
	case STEP_TARGET:
		return step_target(p);
	case STEP_VERSION:
		return step_version(p);
	case STEP_FIELD:
	case STEP_TRAILER:
		return step_field(p);
	case STEP_FIELD_VALUE:
	case STEP_TRAILER_VALUE:
		return step_field_value(p);
	case STEP_LENGTH_BODY:
		return step_length_body(p);
	case STEP_CHUNK_SIZE:
		return step_chunk_size(p);
	case STEP_CHUNK_EXT:
		return step_chunk_ext(p);
	case STEP_CHUNK_DATA:
		return step_chunk_data(p);
	case STEP_CHUNK_DATA_END:
		return step_chunk_data_end(p);
	case STEP_NEW:
	case STEP_DONE:
	case STEP_FAILED:
		break;
	}
	return 400; /* not reached: run_steps() stops at STEP_DONE */
}

/*
 * Runs steps, from the one st names, until the request is complete or a
 * step stops.  Only a step that finishes moves st on; one that runs out of
 * bytes keeps just its run's progress and starts again on the next call.
 *
 * The cursor and the step are loaded from st once, into a copy of the
 * parser that lives only in this function, and st is written once on the
 * way out.  The compiler can then keep them in registers: were they
 * reached through pointers, every store into req (a size_t, like the
 * cursor's fields) could be a store into them too, and the compiler would
 * have to read them back from memory after each one.  A step that stops
 * half-way has moved the cursor, so where the last finished step left it
 * is kept apart, in done.
 */
static int run_steps(struct parser *outer)
{
	struct parser p = *outer;
	struct http_parse_state *st = p.st;
	struct scan *s = &p.s;
	struct scan done;
	int rc = 0;

	p.step = (enum step)st->step;
	s->pos = st->pos;
	s->limit = st->limit;
	s->over = st->over;
	s->lf_ok = st->lf_ok;
	s->run_end = st->run_end;
	s->run_acc = st->run_acc;
	done = *s;
	while (p.step != STEP_DONE) {
		rc = run_step(&p);
		if (rc != 0)
			break;
		done = *s;
		s->run_end = 0;
		s->run_acc = 0;
	}
	st->step = p.step;
	st->pos = done.pos;
	st->limit = done.limit;
	st->over = done.over;
	st->lf_ok = done.lf_ok;
	st->run_end = rc == HTTP_INCOMPLETE ? s->run_end : 0;
	st->run_acc = rc == HTTP_INCOMPLETE ? s->run_acc : 0;
	outer->s.examined = s->examined;
	return rc;
}

/*
 * A complete chunked body is walked a second time to move its data
 * together behind the head, so that req->body is one view.  Only then:
 * until the request is complete, buf stays as it was received, so a
 * caller may always parse it again from the start.  The walk reads only
 * bytes the first one checked, so it cannot fail.  The body's section
 * (limit, no bare LF) is still in st: nothing after the head changes it.
 */
static void gather_chunks(struct parser *p)
{
	struct http_parse_state again = *p->st;
	struct parser walk = *p;

	again.step = STEP_CHUNK_SIZE;
	again.pos = p->req->header_len;
	again.run_end = 0;
	again.run_acc = 0;
	again.body_len = 0;
	walk.st = &again;
	walk.gather = true;
	(void)run_steps(&walk);
	p->s.examined = walk.s.examined;
	p->req->body.p = p->s.buf + p->req->header_len;
	p->req->body.len = again.body_len;
}

/*
 * Empties every field of req but the header array.  The array is most of
 * the struct (48 fields of 32 bytes), and only headers[0..num_headers) is
 * ever read, so zeroing it all for each request (a memset of 1.7 KB) was
 * wasted: each slot is written before num_headers counts it.
 */
static void clear_request(struct http_request *req)
{
	static const struct http_str none = { NULL, 0 };

	req->method = 0;
	req->method_name = none;
	req->target = none;
	req->path = none;
	req->query = none;
	req->version_minor = 0;
	req->num_headers = 0;
	req->host = none;
	req->content_length = 0;
	req->chunked = false;
	req->keep_alive = false;
	req->expect_continue = false;
	req->header_len = 0;
	req->body = none;
	req->status = 0;
}

/*
 * A new request at buf[0]: its request line's section comes first.  Every
 * field of st is set here, once (a memset first would write them twice);
 * only the count of bytes examined goes on from request to request.
 */
static void start_request(struct http_parse_state *st, struct http_request *req,
			  const struct http_limits *lim)
{
	*st = (struct http_parse_state){
		.step = STEP_LEAD,
		.lf_ok = true,
		.over = 414,
		.limit = lim->max_request_line,
		.examined = st->examined,
	};
	clear_request(req);
}

/* ---- public functions ---------------------------------------------------- */

static const struct http_limits default_limits = {
	.max_request_line = HTTP_DEFAULT_MAX_REQUEST_LINE,
	.max_header_bytes = HTTP_DEFAULT_MAX_HEADER_BYTES,
	.max_headers = HTTP_MAX_HEADERS,
	.max_body = HTTP_DEFAULT_MAX_BODY,
};

void http_limits_init(struct http_limits *lim)
{
	*lim = default_limits;
}

void http_parse_state_init(struct http_parse_state *st)
{
	memset(st, 0, sizeof(*st));
	st->step = STEP_NEW;
}

size_t http_request_buffer_size(const struct http_limits *lim)
{
	size_t head, body;

	if (lim == NULL)
		lim = &default_limits;
	head = add_saturated(add_saturated(lim->max_request_line, 2),
			     lim->max_header_bytes);
	body = add_saturated(lim->max_body, lim->max_header_bytes);
	return add_saturated(head, body);
}

ssize_t http_parse_request(char *buf, size_t len, const struct http_limits *lim,
			   struct http_request *req,
			   struct http_parse_state *st)
{
	struct http_parse_state scratch;
	struct parser p;
	bool fresh;
	int rc;

	if (lim == NULL)
		lim = &default_limits;
	if (st == NULL) {
		/* Nothing to go on from: start_request() sets the rest. */
		scratch.step = STEP_NEW;
		scratch.seen = 0; /* never read, but cppcheck cannot tell */
		scratch.examined = 0;
		st = &scratch;
	}
	fresh = st->step == STEP_NEW || st->step >= STEP_DONE || len < st->seen;
	if (fresh)
		start_request(st, req, lim);
	else if (len == st->seen)
		return HTTP_INCOMPLETE; /* nothing new: the answer stands */
	/* LESSON: set field by field, not as one compound literal.  For
	   the literal gcc zeroed the 104-byte struct first with "rep
	   stos", a string instruction slow to start: it cost a sixth of
	   the time of a 50-byte request, for one line of C.  The clock
	   shows it; an instruction count hardly does (9 of 781). */
	p.s.buf = buf;
	p.s.pos = 0;
	p.s.len = len;
	p.s.limit = 0;
	p.s.over = 0;
	p.s.lf_ok = false;
	p.s.run_end = 0;
	p.s.run_acc = 0;
	p.s.examined = 0;
	p.step = STEP_NEW;
	p.st = st;
	p.req = req;
	p.lim = lim;
	p.gather = false;
	if (fresh && fast_head(&p)) {
		st->step = p.step;
		st->pos = p.s.pos;
		st->limit = p.s.limit;
		st->over = p.s.over;
		st->lf_ok = p.s.lf_ok;
	}
	st->seen = len;
	rc = st->step == STEP_DONE ? 0 : run_steps(&p);
	if (rc == 0 && req->chunked)
		gather_chunks(&p);
	st->examined += p.s.examined;
	if (rc == HTTP_INCOMPLETE)
		return HTTP_INCOMPLETE;
	if (rc != 0) {
		st->step = STEP_FAILED;
		req->status = rc;
		return HTTP_ERROR;
	}
	return (ssize_t)st->pos;
}

const struct http_str *http_find_header(const struct http_request *req,
					const char *name)
{
	size_t n = strlen(name), i; /* once, not once per field */

	for (i = 0; i < req->num_headers; i++)
		if (req->headers[i].name.len == n &&
		    equal_nocase(req->headers[i].name.p, name, n))
			return &req->headers[i].value;
	return NULL;
}

/*
 * Percent-decodes src[0..n) into out, '+' to space if plus_is_space.
 * -1 on a malformed escape, a NUL (escaped or not), or no room.
 */
/*
 * Decodes the character at src[*i] of src[0..n): a %xx escape, '+' for a
 * space if plus_is_space, or the byte itself; moves *i past it.  Returns
 * the character, or -1 if the escape is malformed or the character is NUL.
 */
static int decode_char(const char *src, size_t n, size_t *i, bool plus_is_space)
{
	unsigned char c = (unsigned char)src[*i];
	int hi, lo;

	if (c == '%') {
		if (n - *i < 3)
			return -1;
		hi = hex_value((unsigned char)src[*i + 1]);
		lo = hex_value((unsigned char)src[*i + 2]);
		if (hi < 0 || lo < 0)
			return -1;
		c = (unsigned char)(hi * 16 + lo);
		*i += 3;
	} else {
		if (c == '+' && plus_is_space)
			c = ' ';
		*i += 1;
	}
	/* LESSON: "%00" would cut the C string short: the file opened
	   would not be the one that was checked. */
	return c == '\0' ? -1 : c;
}

/*
 * Percent-decodes src[0..n) into out, '+' to space if plus_is_space.
 * -1 on a malformed escape, a NUL (escaped or not), or no room.
 */
static ssize_t percent_decode(const char *src, size_t n, bool plus_is_space,
			      char *out, size_t outsz)
{
	size_t i = 0, o = 0;
	int c;

	if (outsz == 0)
		return -1;
	while (i < n) {
		c = decode_char(src, n, &i, plus_is_space);
		if (c < 0 || o + 1 >= outsz)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return (ssize_t)o;
}

ssize_t http_decode_path(const struct http_str *path, char *out, size_t outsz)
{
	return percent_decode(path->p, path->len, false, out, outsz);
}

/*
 * LESSON: one decoding for keys and values.  If a key is matched as sent
 * but its value decoded, "n%61me=x" is not "name" to us but is to the next
 * program that decodes the whole query, and a check made on one spelling
 * is skipped by the other.  Likewise a query with one broken escape is
 * refused as a whole rather than read around.
 */
static bool query_is_well_formed(const struct http_str *query)
{
	size_t i = 0;

	while (i < query->len)
		if (decode_char(query->p, query->len, &i, true) < 0)
			return false;
	return true;
}

/* True if the form-encoded key p[0..n), known well-formed, is key. */
static bool form_key_equal(const char *p, size_t n, const char *key)
{
	size_t i = 0;

	while (i < n) {
		if (*key == '\0' ||
		    decode_char(p, n, &i, true) != (unsigned char)*key)
			return false;
		key++;
	}
	return *key == '\0';
}

ssize_t http_query_param(const struct http_str *query, const char *key,
			 char *out, size_t outsz)
{
	const char *p = query->p;
	const char *end, *amp, *pair_end, *eq, *value;
	ssize_t n;

	if (query->len == 0)
		return HTTP_QUERY_ABSENT;
	if (!query_is_well_formed(query))
		return HTTP_QUERY_MALFORMED;
	end = p + query->len;
	for (;;) {
		amp = memchr(p, '&', (size_t)(end - p));
		pair_end = amp != NULL ? amp : end;
		eq = memchr(p, '=', (size_t)(pair_end - p));
		if (form_key_equal(p, (size_t)((eq ? eq : pair_end) - p),
				   key)) {
			value = eq != NULL ? eq + 1 : pair_end;
			n = percent_decode(value, (size_t)(pair_end - value),
					   true, out, outsz);
			return n < 0 ? HTTP_QUERY_MALFORMED : n;
		}
		if (amp == NULL)
			return HTTP_QUERY_ABSENT;
		p = amp + 1;
	}
}

const char *http_method_name(enum http_method m)
{
	if ((size_t)m >= NUM_METHODS)
		return "UNKNOWN";
	return method_names[m].name;
}

bool http_str_equal_nocase(const struct http_str *a, const char *b)
{
	return strlen(b) == a->len && equal_nocase(a->p, b, a->len);
}
