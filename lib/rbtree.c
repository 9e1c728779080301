/* rbtree.c -- red-black tree balancing for the KVA and busy-area trees.
 *
 * Augmentation rule: a rotation keeps the set of nodes below the rotated
 * pair, so only the two rotated nodes need recomputing (the lower one first);
 * a structural change (new leaf, spliced node) is followed by one walk from
 * the lowest changed node up to the root before any rotation happens.
 */
#include "rbtree.h"

static bool is_red(const struct rb_node *n)
{
	return n && n->red;
}

static void replace_child(struct rb_root *root, struct rb_node *parent,
			  struct rb_node *old, struct rb_node *new)
{
	if (!parent)
		root->node = new;
	else if (parent->left == old)
		parent->left = new;
	else
		parent->right = new;
}

/*
 *     x                y
 *    / \              / \
 *   a   y    -->     x   c
 *      / \          / \
 *     b   c        a   b
 */
static void rotate_left(struct rb_root *root, struct rb_node *x, rb_augment_fn *aug)
{
	struct rb_node *y = x->right;

	x->right = y->left;
	if (y->left)
		y->left->parent = x;
	y->parent = x->parent;
	replace_child(root, x->parent, x, y);
	y->left = x;
	x->parent = y;
	if (aug) {
		aug(x);
		aug(y);
	}
}

static void rotate_right(struct rb_root *root, struct rb_node *x, rb_augment_fn *aug)
{
	struct rb_node *y = x->left;

	x->left = y->right;
	if (y->right)
		y->right->parent = x;
	y->parent = x->parent;
	replace_child(root, x->parent, x, y);
	y->right = x;
	x->parent = y;
	if (aug) {
		aug(x);
		aug(y);
	}
}

void vmi_rb_propagate(struct rb_node *node, rb_augment_fn *aug)
{
	if (!aug)
		return;
	for (; node; node = node->parent)
		aug(node);
}

void vmi_rb_insert(struct rb_root *root, struct rb_node *node, struct rb_node *parent,
	       struct rb_node **link, rb_augment_fn *aug)
{
	node->parent = parent;
	node->left = node->right = NULL;
	node->red = true;
	*link = node;
	vmi_rb_propagate(node, aug);

	while (is_red(node->parent)) {
		struct rb_node *p = node->parent;
		struct rb_node *g = p->parent; /* exists: a red node is never the root */

		if (p == g->left) {
			struct rb_node *u = g->right;

			if (is_red(u)) {
				p->red = false;
				u->red = false;
				g->red = true;
				node = g;
				continue;
			}
			if (node == p->right) {
				node = p;
				rotate_left(root, node, aug);
				p = node->parent;
			}
			p->red = false;
			g->red = true;
			rotate_right(root, g, aug);
		} else {
			struct rb_node *u = g->left;

			if (is_red(u)) {
				p->red = false;
				u->red = false;
				g->red = true;
				node = g;
				continue;
			}
			if (node == p->left) {
				node = p;
				rotate_right(root, node, aug);
				p = node->parent;
			}
			p->red = false;
			g->red = true;
			rotate_left(root, g, aug);
		}
	}
	root->node->red = false;
}

static void transplant(struct rb_root *root, struct rb_node *u, struct rb_node *v)
{
	replace_child(root, u->parent, u, v);
	if (v)
		v->parent = u->parent;
}

/* x (possibly NULL) carries an extra black; xp is its parent. */
static void erase_fixup(struct rb_root *root, struct rb_node *x, struct rb_node *xp,
			rb_augment_fn *aug)
{
	while (x != root->node && !is_red(x)) {
		if (x == xp->left) {
			struct rb_node *w = xp->right;

			if (is_red(w)) {
				w->red = false;
				xp->red = true;
				rotate_left(root, xp, aug);
				w = xp->right;
			}
			if (!is_red(w->left) && !is_red(w->right)) {
				w->red = true;
				x = xp;
				xp = x->parent;
			} else {
				if (!is_red(w->right)) {
					w->left->red = false;
					w->red = true;
					rotate_right(root, w, aug);
					w = xp->right;
				}
				w->red = xp->red;
				xp->red = false;
				w->right->red = false;
				rotate_left(root, xp, aug);
				x = root->node;
				break;
			}
		} else {
			struct rb_node *w = xp->left;

			if (is_red(w)) {
				w->red = false;
				xp->red = true;
				rotate_right(root, xp, aug);
				w = xp->left;
			}
			if (!is_red(w->left) && !is_red(w->right)) {
				w->red = true;
				x = xp;
				xp = x->parent;
			} else {
				if (!is_red(w->left)) {
					w->right->red = false;
					w->red = true;
					rotate_left(root, w, aug);
					w = xp->left;
				}
				w->red = xp->red;
				xp->red = false;
				w->left->red = false;
				rotate_right(root, xp, aug);
				x = root->node;
				break;
			}
		}
	}
	if (x)
		x->red = false;
}

void vmi_rb_erase(struct rb_root *root, struct rb_node *z, rb_augment_fn *aug)
{
	struct rb_node *x, *xp;
	bool removed_red = z->red;

	if (!z->left) {
		x = z->right;
		xp = z->parent;
		transplant(root, z, z->right);
	} else if (!z->right) {
		x = z->left;
		xp = z->parent;
		transplant(root, z, z->left);
	} else {
		/* Two children: the successor y takes z's place and colour. */
		struct rb_node *y = z->right;

		while (y->left)
			y = y->left;
		removed_red = y->red;
		x = y->right;
		if (y->parent == z) {
			xp = y;
		} else {
			xp = y->parent;
			transplant(root, y, y->right);
			y->right = z->right;
			y->right->parent = y;
		}
		transplant(root, z, y);
		y->left = z->left;
		y->left->parent = y;
		y->red = z->red;
	}
	vmi_rb_propagate(xp, aug);
	if (!removed_red && root->node)
		erase_fixup(root, x, xp, aug);
	z->parent = z->left = z->right = NULL;
}

struct rb_node *vmi_rb_first(const struct rb_root *root)
{
	struct rb_node *n = root->node;

	if (!n)
		return NULL;
	while (n->left)
		n = n->left;
	return n;
}

struct rb_node *vmi_rb_last(const struct rb_root *root)
{
	struct rb_node *n = root->node;

	if (!n)
		return NULL;
	while (n->right)
		n = n->right;
	return n;
}

struct rb_node *vmi_rb_next(const struct rb_node *node)
{
	const struct rb_node *p;

	if (node->right) {
		node = node->right;
		while (node->left)
			node = node->left;
		return (struct rb_node *)node;
	}
	while ((p = node->parent) && node == p->right)
		node = p;
	return (struct rb_node *)p;
}

struct rb_node *vmi_rb_prev(const struct rb_node *node)
{
	const struct rb_node *p;

	if (node->left) {
		node = node->left;
		while (node->right)
			node = node->right;
		return (struct rb_node *)node;
	}
	while ((p = node->parent) && node == p->left)
		node = p;
	return (struct rb_node *)p;
}

static int check_subtree(const struct rb_node *n, const struct rb_node *parent)
{
	int lh, rh;

	if (!n)
		return 1;
	if (n->parent != parent)
		return -1;
	if (n->red && (is_red(n->left) || is_red(n->right)))
		return -1;
	lh = check_subtree(n->left, n);
	rh = check_subtree(n->right, n);
	if (lh < 0 || rh < 0 || lh != rh)
		return -1;
	return lh + (n->red ? 0 : 1);
}

int vmi_rb_check(const struct rb_root *root)
{
	if (root->node && root->node->red)
		return -1;
	return check_subtree(root->node, NULL);
}
