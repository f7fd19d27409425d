/*
 * magazine_hash.c - the hash of the lease ids granted to libkmem's
 * magazines (magazine.c's theory block): open addressing with linear
 * probing on the id's low bits, load <= 1/2, backward-shift deletion
 * (Knuth's Algorithm R) so lookups never meet tombstones.  A slot that
 * moves takes its magazine round along.  Lookup is inline in
 * magazine_impl.h: the magazine fast paths use it.
 */
#include <stdlib.h>

#include "kmem/error.h"
#include "magazine_impl.h"

/* A new IDLE slot (room reserved beforehand by slot_reserve); its index. */
uint32_t kmem__slot_put(struct kmem_mags *m, uint64_t id, uint64_t offset,
			uint64_t phys, uint16_t mag)
{
	size_t i = kmem__slot_bucket(m, id);

	while (m->tab[i].id)
		i = (i + 1) & m->mask;
	m->tab[i] = (struct slot){ id, offset, phys, mag, ST_IDLE, 0 };
	m->used++;
	return (uint32_t)i;
}

/* Put slot e at index i of tab; an IDLE one's round follows it. */
static void slot_place(struct kmem_mags *m, struct slot *tab, size_t i,
		       const struct slot *e)
{
	tab[i] = *e;
	if (e->state == ST_IDLE)
		m->v[e->mag].r[e->pos] = (uint32_t)i;
}

/* Knuth's Algorithm R: pull later members of the cluster back into the
 * hole, so lookups never need tombstones. */
void kmem__slot_del(struct kmem_mags *m, struct slot *e)
{
	size_t i = (size_t)(e - m->tab), j = i;

	for (;;) {
		size_t k;

		j = (j + 1) & m->mask;
		if (!m->tab[j].id)
			break;
		k = kmem__slot_bucket(m, m->tab[j].id);
		/* Move j to i unless its home k lies cyclically in (i, j]. */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		slot_place(m, m->tab, i, &m->tab[j]);
		i = j;
	}
	m->tab[i].id = 0;
	m->used--;
}

/* Make room for extra more ids at load <= 1/2.  0 or KMEM_ENOMETA. */
int kmem__slot_reserve(struct kmem_mags *m, size_t extra)
{
	size_t nb = m->mask + 1, want = nb;
	struct slot *old = m->tab, *tab;

	while ((m->used + extra) * 2 > want)
		want *= 2;
	if (want == nb)
		return 0;
	tab = calloc(want, sizeof(*tab));
	if (!tab)
		return KMEM_ENOMETA;
	m->tab = tab;
	m->mask = want - 1;
	m->used = 0;
	for (size_t i = 0; i < nb; i++)
		if (old[i].id) {
			size_t k = kmem__slot_bucket(m, old[i].id);

			while (tab[k].id)
				k = (k + 1) & m->mask;
			slot_place(m, tab, k, &old[i]);
			m->used++;
		}
	free(old);
	return 0;
}
