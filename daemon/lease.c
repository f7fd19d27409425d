/*
 * lease.c - the lease table: ids and names hashed, O(1) whatever the count.
 */
#include <stdlib.h>
#include <string.h>

#include "lease.h"

#define MIN_BUCKETS 256

static size_t id_slot(const struct lease_table *t, uint64_t id)
{
	/* Fibonacci hashing: ids are sequential, so spread them. */
	return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 32) & (t->nbuckets - 1);
}

static size_t name_slot(const struct lease_table *t, const char *name)
{
	uint64_t h = 1469598103934665603ull;	/* FNV-1a */

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 1099511628211ull;
	return (size_t)(h ^ (h >> 29)) & (t->nbuckets - 1);
}

int lease_table_init(struct lease_table *t)
{
	memset(t, 0, sizeof(*t));
	t->nbuckets = MIN_BUCKETS;
	t->ids = calloc(t->nbuckets, sizeof(*t->ids));
	t->names = calloc(t->nbuckets, sizeof(*t->names));
	t->next_id = 1;
	if (!t->ids || !t->names) {
		free(t->ids);
		free(t->names);
		return -1;
	}
	return 0;
}

void lease_table_fini(struct lease_table *t)
{
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct lease *l = t->ids[i];

		while (l) {
			struct lease *next = l->hnext;

			free(l->buf.segs);
			free(l);
			l = next;
		}
	}
	free(t->ids);
	free(t->names);
	memset(t, 0, sizeof(*t));
}

struct lease *lease_new(struct lease_table *t)
{
	struct lease *l = calloc(1, sizeof(*l));

	if (l)
		l->id = t->next_id++;
	return l;
}

/* Double both tables; on ENOMEM keep the old ones (longer chains). */
static void grow(struct lease_table *t)
{
	size_t n = t->nbuckets * 2;
	struct lease **ids = calloc(n, sizeof(*ids));
	struct lease **names = calloc(n, sizeof(*names));
	struct lease **old_ids = t->ids;
	size_t old_n = t->nbuckets;

	if (!ids || !names) {
		free(ids);
		free(names);
		return;
	}
	t->ids = ids;
	free(t->names);
	t->names = names;
	t->nbuckets = n;
	for (size_t i = 0; i < old_n; i++) {
		struct lease *l = old_ids[i];

		while (l) {
			struct lease *next = l->hnext;
			size_t s = id_slot(t, l->id);

			l->hnext = t->ids[s];
			t->ids[s] = l;
			if (l->name[0]) {
				size_t k = name_slot(t, l->name);

				l->nnext = t->names[k];
				t->names[k] = l;
			}
			l = next;
		}
	}
	free(old_ids);
}

int lease_insert(struct lease_table *t, struct lease *l)
{
	size_t s;

	if (t->count + 1 > t->nbuckets)
		grow(t);
	s = id_slot(t, l->id);
	l->hnext = t->ids[s];
	t->ids[s] = l;
	if (l->name[0]) {
		size_t k = name_slot(t, l->name);

		l->nnext = t->names[k];
		t->names[k] = l;
		t->named++;
	}
	t->count++;
	return 0;
}

void lease_unname(struct lease_table *t, struct lease *l)
{
	struct lease **pp;

	if (!l->name[0])
		return;
	for (pp = &t->names[name_slot(t, l->name)]; *pp; pp = &(*pp)->nnext) {
		if (*pp == l) {
			*pp = l->nnext;
			t->named--;
			break;
		}
	}
	l->name[0] = 0;
}

void lease_remove(struct lease_table *t, struct lease *l)
{
	struct lease **pp;

	lease_unname(t, l);
	for (pp = &t->ids[id_slot(t, l->id)]; *pp; pp = &(*pp)->hnext) {
		if (*pp == l) {
			*pp = l->hnext;
			t->count--;
			break;
		}
	}
	free(l->buf.segs);
	free(l);
}

struct lease *lease_find(const struct lease_table *t, uint64_t id)
{
	struct lease *l = t->ids[id_slot(t, id)];

	while (l && l->id != id)
		l = l->hnext;
	return l;
}

struct lease *lease_find_name(const struct lease_table *t, const char *name)
{
	struct lease *l = t->names[name_slot(t, name)];

	while (l && strcmp(l->name, name) != 0)
		l = l->nnext;
	return l;
}

void lease_foreach(const struct lease_table *t,
		   int (*fn)(struct lease *l, void *arg), void *arg)
{
	for (size_t i = 0; i < t->nbuckets; i++)
		for (struct lease *l = t->ids[i], *next; l; l = next) {
			next = l->hnext;
			if (fn(l, arg))
				return;
		}
}
