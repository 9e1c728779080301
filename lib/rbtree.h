/* rbtree.h -- an intrusive red-black tree with optional augmentation.
 *
 * The caller embeds struct rb_node in its objects, finds the insertion point
 * itself (so the key stays the caller's business) and calls vmi_rb_insert().
 * An augmented tree passes an rb_augment_fn that recomputes one node's
 * augmented value from the node and its two children; the tree calls it for
 * every node whose subtree changed, bottom-up, so the value at the root is
 * always the value of the whole tree.
 *
 * Invariants: the root is black; no red node has a red child; every path from
 * a node to a NULL leaf crosses the same number of black nodes.
 */
#ifndef VMCORE_RBTREE_H
#define VMCORE_RBTREE_H

#include <stdbool.h>
#include <stddef.h>

struct rb_node {
	struct rb_node *parent;
	struct rb_node *left, *right;
	bool red;
};

struct rb_root {
	struct rb_node *node;
};

typedef void rb_augment_fn(struct rb_node *node);

#define rb_entry(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

/* Link node as a leaf at *link (a child pointer of parent, or &root->node
 * when the tree is empty) and rebalance.  aug may be NULL.  Can't fail. */
void vmi_rb_insert(struct rb_root *root, struct rb_node *node, struct rb_node *parent,
	       struct rb_node **link, rb_augment_fn *aug);

/* Unlink node and rebalance.  aug may be NULL.  Can't fail. */
void vmi_rb_erase(struct rb_root *root, struct rb_node *node, rb_augment_fn *aug);

/* Recompute the augmented values from node up to the root, after the caller
 * changed node's own contribution (e.g. resized a free range in place). */
void vmi_rb_propagate(struct rb_node *node, rb_augment_fn *aug);

struct rb_node *vmi_rb_first(const struct rb_root *root);
struct rb_node *vmi_rb_last(const struct rb_root *root);
struct rb_node *vmi_rb_next(const struct rb_node *node);
struct rb_node *vmi_rb_prev(const struct rb_node *node);

/* Check the red-black invariants; returns the black height, or -1 if broken. */
int vmi_rb_check(const struct rb_root *root);

#endif /* VMCORE_RBTREE_H */
