/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The Prometheus text format (halb/prom.h).  Each family keeps its
 * samples as text in a buffer of its own; prom_render joins them.  A few
 * hundred families at most, so they are found by a linear search.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "halb/prom.h"

struct sbuf {
	char *s;
	size_t len, cap;
};

struct prom_family {
	char *name, *help;
	enum prom_type type;
	struct sbuf samples;
};

static int
sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *t;

		while (b->len + n + 1 > cap)
			cap *= 2;
		t = realloc(b->s, cap);
		if (t == NULL)
			return -ENOMEM;
		b->s = t;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
	return 0;
}

static int
sb_str(struct sbuf *b, const char *s)
{
	return sb_put(b, s, strlen(s));
}

/* s escaped: backslash and newline always, the double quote in label
 * values (quote set). */
static int
sb_escaped(struct sbuf *b, const char *s, bool quote)
{
	int rc = 0;

	for (; *s != '\0' && rc == 0; s++) {
		if (*s == '\\')
			rc = sb_str(b, "\\\\");
		else if (*s == '\n')
			rc = sb_str(b, "\\n");
		else if (*s == '"' && quote)
			rc = sb_str(b, "\\\"");
		else
			rc = sb_put(b, s, 1);
	}
	return rc;
}

static int
sb_value(struct sbuf *b, double v)
{
	char buf[40];

	if (isnan(v))
		snprintf(buf, sizeof(buf), "NaN");
	else if (isinf(v))
		snprintf(buf, sizeof(buf), v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 9007199254740992.0) /* 2^53 */
		snprintf(buf, sizeof(buf), "%.0f", v);
	else
		snprintf(buf, sizeof(buf), "%.17g", v);
	return sb_str(b, buf);
}

int
prom_name_ok(const char *s, int label)
{
	size_t i;

	if (s == NULL || s[0] == '\0' || (label && strncmp(s, "__", 2) == 0))
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  c == '_' || (!label && c == ':') ||
			  (i > 0 && c >= '0' && c <= '9');

		if (!ok)
			return 0;
	}
	return 1;
}

void
prom_init(struct prom *p)
{
	memset(p, 0, sizeof(*p));
}

void
prom_fini(struct prom *p)
{
	size_t i;

	for (i = 0; i < p->n_fam; i++) {
		free(p->fam[i].name);
		free(p->fam[i].help);
		free(p->fam[i].samples.s);
	}
	free(p->fam);
	memset(p, 0, sizeof(*p));
}

static struct prom_family *
family(struct prom *p, const char *name, enum prom_type type,
       const char *help)
{
	struct prom_family *f;
	size_t i;

	for (i = 0; i < p->n_fam; i++)
		if (strcmp(p->fam[i].name, name) == 0) {
			if (p->fam[i].type != type) {
				errno = EINVAL;
				return NULL;
			}
			return &p->fam[i];
		}
	if (p->n_fam == p->cap_fam) {
		size_t cap = p->cap_fam ? p->cap_fam * 2 : 32;

		f = realloc(p->fam, cap * sizeof(*f));
		if (f == NULL) {
			errno = ENOMEM;
			return NULL;
		}
		p->fam = f;
		p->cap_fam = cap;
	}
	f = &p->fam[p->n_fam];
	memset(f, 0, sizeof(*f));
	f->name = strdup(name);
	f->help = strdup(help != NULL ? help : "");
	f->type = type;
	if (f->name == NULL || f->help == NULL) {
		free(f->name);
		free(f->help);
		errno = ENOMEM;
		return NULL;
	}
	p->n_fam++;
	return f;
}

int
prom_add(struct prom *p, const char *name, enum prom_type type,
	 const char *help, double value, ...)
{
	struct prom_family *f;
	struct sbuf line = { 0 };
	const char *k, *v;
	bool first = true;
	va_list ap;
	int rc = 0;

	if (!prom_name_ok(name, 0) || (type != PROM_COUNTER && type != PROM_GAUGE)) {
		rc = -EINVAL;
		goto out;
	}
	rc = sb_str(&line, name);
	va_start(ap, value);
	while (rc == 0 && (k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		if (!prom_name_ok(k, 1) || v == NULL) {
			rc = -EINVAL;
			break;
		}
		rc = sb_str(&line, first ? "{" : ",");
		if (rc == 0)
			rc = sb_str(&line, k);
		if (rc == 0)
			rc = sb_str(&line, "=\"");
		if (rc == 0)
			rc = sb_escaped(&line, v, true);
		if (rc == 0)
			rc = sb_str(&line, "\"");
		first = false;
	}
	va_end(ap);
	if (rc == 0 && !first)
		rc = sb_str(&line, "}");
	if (rc == 0)
		rc = sb_str(&line, " ");
	if (rc == 0)
		rc = sb_value(&line, value);
	if (rc == 0)
		rc = sb_str(&line, "\n");
	if (rc != 0)
		goto out;
	f = family(p, name, type, help);
	if (f == NULL) {
		rc = -errno;
		goto out;
	}
	rc = sb_put(&f->samples, line.s, line.len);
out:
	free(line.s);
	if (rc != 0 && p->err == 0)
		p->err = rc;
	return rc;
}

char *
prom_render(const struct prom *p, size_t *len)
{
	static const char *const types[] = { "counter", "gauge" };
	struct sbuf b = { 0 };
	size_t i;
	int rc;

	rc = sb_put(&b, "", 0);
	for (i = 0; i < p->n_fam && rc == 0; i++) {
		const struct prom_family *f = &p->fam[i];

		rc = sb_str(&b, "# HELP ");
		if (rc == 0)
			rc = sb_str(&b, f->name);
		if (rc == 0)
			rc = sb_str(&b, " ");
		if (rc == 0)
			rc = sb_escaped(&b, f->help, false);
		if (rc == 0)
			rc = sb_str(&b, "\n# TYPE ");
		if (rc == 0)
			rc = sb_str(&b, f->name);
		if (rc == 0)
			rc = sb_str(&b, " ");
		if (rc == 0)
			rc = sb_str(&b, types[f->type]);
		if (rc == 0)
			rc = sb_str(&b, "\n");
		if (rc == 0 && f->samples.len != 0)
			rc = sb_put(&b, f->samples.s, f->samples.len);
	}
	if (rc != 0) {
		free(b.s);
		errno = -rc;
		return NULL;
	}
	if (len != NULL)
		*len = b.len;
	return b.s;
}
