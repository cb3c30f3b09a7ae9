/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The Prometheus text exposition format, version 0.0.4 (src/core/prom.c),
 * for halb-exporter.  Samples are added in any order; each family
 * (metric name) is written once, its "# HELP" and "# TYPE" lines first,
 * then its samples in the order they were added, as the format requires
 * of a family's samples.  Names and label names are checked against the
 * format's grammar; label values and help texts are escaped (\\, \", \n).
 * A struct prom belongs to one thread.
 */
#ifndef HALB_PROM_H
#define HALB_PROM_H

#include <stddef.h>
#include <stdint.h>

enum prom_type {
	PROM_COUNTER = 0,
	PROM_GAUGE,
};

struct prom_family;

struct prom {
	struct prom_family *fam;
	size_t n_fam, cap_fam;
	int err; /* the first error of a prom_add, sticky (-errno) */
};

void prom_init(struct prom *p);
void prom_fini(struct prom *p);

/*
 * Adds one sample of family `name` (created on first use with help and
 * type; a later call giving another type is refused).  The labels follow
 * value as pairs of strings, name then value, ending with NULL.  Returns
 * 0, or -EINVAL (a bad name, label name, or type) or -ENOMEM, which
 * p->err keeps.
 */
int prom_add(struct prom *p, const char *name, enum prom_type type,
	     const char *help, double value, ...)
	__attribute__((sentinel));

/*
 * Writes every family to a string (free() it), its length in *len when
 * len is not NULL.  NULL with errno set on allocation failure.
 */
char *prom_render(const struct prom *p, size_t *len);

/* Whether s is a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) or, with
 * label set, label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting "__"). */
int prom_name_ok(const char *s, int label);

#endif /* HALB_PROM_H */
