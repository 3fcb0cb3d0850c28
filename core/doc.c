#include "core/doc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/banned.h"

/*
 * The position table: open addressing with linear probing over an array of
 * entry pointers. Entries (and the key texts and raw texts they point to)
 * live in the document's arena, so a returned ks_node_info stays valid for
 * the document's whole life even when the table grows.
 */
struct entry {
	/* The container's address, with the low bit set for an array index
	 * (containers are aligned, so the bit is free). */
	uintptr_t container;
	union {
		const char *key;
		size_t index;
	} at;
	ks_node_info info;
};

struct ks_doc {
	char *file;
	json_t *root;
	ks_mark root_mark;
	ks_arena *arena;
	struct entry **slots;
	size_t nslots; /* a power of two, or 0 */
	size_t count;
};

ks_doc *ks_doc_new(const char *file)
{
	ks_doc *d = ks_xcalloc(1, sizeof(*d));
	d->file = ks_xstrdup(file ? file : "");
	d->arena = ks_arena_new();
	return d;
}

void ks_doc_free(ks_doc *d)
{
	if (!d)
		return;
	json_decref(d->root);
	free(d->slots);
	ks_arena_free(d->arena);
	free(d->file);
	free(d);
}

const char *ks_doc_file(const ks_doc *d)
{
	return d->file;
}

json_t *ks_doc_root(const ks_doc *d)
{
	return d->root;
}

ks_mark ks_doc_root_mark(const ks_doc *d)
{
	return d->root_mark;
}

void ks_doc_set_root(ks_doc *d, json_t *root, ks_mark mark)
{
	json_decref(d->root);
	d->root = root;
	d->root_mark = mark;
}

const char *ks_doc_intern(ks_doc *d, const char *s, size_t len)
{
	return ks_arena_strndup(d->arena, s, len);
}

/* A 64-bit finalizer (splitmix64's) spreads pointer bits, whose low bits are
 * always zero, over the whole word. */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static uint64_t hash_key(const json_t *c, const char *key)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ULL;
	}
	return mix(h ^ mix((uint64_t)(uintptr_t)c));
}

static uint64_t hash_index(const json_t *c, size_t index)
{
	return mix((uint64_t)(uintptr_t)c ^ mix((uint64_t)index + 1));
}

static uintptr_t tag_of(const json_t *c, const char *key)
{
	return (uintptr_t)c | (key ? 0 : 1);
}

static uint64_t hash_entry(const struct entry *e)
{
	const json_t *c = (const json_t *)(e->container & ~(uintptr_t)1);
	return e->container & 1 ? hash_index(c, e->at.index)
				: hash_key(c, e->at.key);
}

static int matches(const struct entry *e, uintptr_t tag, const char *key,
		   size_t index)
{
	if (e->container != tag)
		return 0;
	return key ? strcmp(e->at.key, key) == 0 : e->at.index == index;
}

/* The slot holding (c, key|index), or the empty slot where it would go. */
static struct entry **find_slot(const ks_doc *d, uint64_t h, const json_t *c,
				const char *key, size_t index)
{
	size_t mask = d->nslots - 1;
	uintptr_t tag = tag_of(c, key);
	for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
		struct entry **s = &d->slots[i];
		if (!*s || matches(*s, tag, key, index))
			return s;
	}
}

static void grow(ks_doc *d)
{
	size_t n = d->nslots ? d->nslots * 2 : 64;
	struct entry **old = d->slots;
	size_t oldn = d->nslots;
	d->slots = ks_xcalloc(n, sizeof(*d->slots));
	d->nslots = n;
	for (size_t i = 0; i < oldn; i++) {
		struct entry *e = old[i];
		if (!e)
			continue;
		size_t mask = n - 1;
		size_t j = (size_t)hash_entry(e) & mask;
		while (d->slots[j])
			j = (j + 1) & mask;
		d->slots[j] = e;
	}
	free(old);
}

static void note(ks_doc *d, const json_t *c, const char *key, size_t index,
		 const ks_node_info *info)
{
	/* Keep the load factor under 3/4. */
	if ((d->count + 1) * 4 > d->nslots * 3)
		grow(d);
	uint64_t h = key ? hash_key(c, key) : hash_index(c, index);
	struct entry **s = find_slot(d, h, c, key, index);
	struct entry *e = *s;
	if (!e) {
		e = ks_arena_alloc(d->arena, sizeof(*e));
		e->container = tag_of(c, key);
		if (key)
			e->at.key = ks_arena_strdup(d->arena, key);
		else
			e->at.index = index;
		*s = e;
		d->count++;
	}
	e->info = *info;
	if (info->raw)
		e->info.raw = ks_arena_strdup(d->arena, info->raw);
}

void ks_doc_note_key(ks_doc *d, const json_t *obj, const char *key,
		     const ks_node_info *info)
{
	note(d, obj, key, 0, info);
}

void ks_doc_note_index(ks_doc *d, const json_t *arr, size_t index,
		       const ks_node_info *info)
{
	note(d, arr, NULL, index, info);
}

static const ks_node_info *lookup(const ks_doc *d, const json_t *c,
				  const char *key, size_t index)
{
	if (!d || !c || !d->count)
		return NULL;
	uint64_t h = key ? hash_key(c, key) : hash_index(c, index);
	struct entry **s = find_slot(d, h, c, key, index);
	return *s ? &(*s)->info : NULL;
}

const ks_node_info *ks_doc_key_info(const ks_doc *d, const json_t *obj,
				    const char *key)
{
	if (!key)
		return NULL;
	return lookup(d, obj, key, 0);
}

const ks_node_info *ks_doc_index_info(const ks_doc *d, const json_t *arr,
				      size_t index)
{
	return lookup(d, arr, NULL, index);
}
