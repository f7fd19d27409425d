/*
 * kmemctl_table.c - the one table renderer behind every kmemctl listing.
 *
 * Cells are collected first and printed at the end, so each column is as
 * wide as its widest cell.  Columns are separated by two spaces and a cell
 * never holds two spaces in a row, so "two or more spaces" splits a line
 * back into cells (the CLI tests rely on it).  Numbers are right-aligned,
 * text left-aligned; lines carry no trailing blanks.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "kmemctl.h"

void table_init(struct table *t, const struct table_col *cols, size_t ncols)
{
	assert(ncols > 0 && ncols <= TABLE_MAX_COLS);
	memset(t, 0, sizeof(*t));
	t->cols = cols;
	t->ncols = ncols;
}

/*
 * Keep the cell one token of the layout: no control characters (names come
 * from clients), no double spaces, never empty.
 */
static void tidy(char *s)
{
	char *w = s;

	for (const char *r = s; *r; r++) {
		char ch = (*r >= 0 && *r < 32) || *r == 127 ? '?' : *r;

		if (ch == ' ' && (w == s || w[-1] == ' '))
			continue;
		*w++ = ch;
	}
	while (w > s && w[-1] == ' ')
		w--;
	*w = 0;
}

void table_add(struct table *t, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	if (t->failed)
		return;
	if (t->ncells == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		char **c = realloc(t->cells, cap * sizeof(*c));

		if (!c) {
			t->failed = true;
			return;
		}
		t->cells = c;
		t->cap = cap;
	}
	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		t->failed = true;
		return;
	}
	tidy(s);
	if (!*s) {
		free(s);
		s = strdup("-");
		if (!s) {
			t->failed = true;
			return;
		}
	}
	t->cells[t->ncells++] = s;
}

static void print_row(const struct table *t, const char *const *cells,
		      size_t n, const size_t *width, FILE *f)
{
	for (size_t c = 0; c < n; c++) {
		bool last = c + 1 == n;
		int w = (int)width[c];

		if (c)
			fputs("  ", f);
		if (t->cols[c].right)
			fprintf(f, "%*s", w, cells[c]);
		else
			fprintf(f, "%-*s", last ? 0 : w, cells[c]);
	}
	fputc('\n', f);
}

int table_print(const struct table *t, FILE *f)
{
	size_t width[TABLE_MAX_COLS] = { 0 }, nc = t->ncols;
	const char *heads[TABLE_MAX_COLS];

	if (t->failed)
		return -1;
	for (size_t c = 0; c < nc; c++) {
		heads[c] = t->cols[c].head;
		width[c] = strlen(heads[c]);
	}
	for (size_t i = 0; i < t->ncells; i++) {
		size_t len = strlen(t->cells[i]);

		if (len > width[i % t->ncols])
			width[i % t->ncols] = len;
	}
	print_row(t, heads, nc, width, f);
	for (size_t i = 0; i < t->ncells; i += t->ncols)
		print_row(t, (const char *const *)t->cells + i,
			  t->ncells - i < nc ? t->ncells - i : nc, width, f);
	return 0;
}

void table_fini(struct table *t)
{
	for (size_t i = 0; i < t->ncells; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}
