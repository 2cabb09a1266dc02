"""Red-black trees: rb_insert_color, rb_erase, rb_first, rb_last, rb_next, rb_prev
(lib/rbtree.c, include/linux/rbtree_augmented.h), on the module's own struct rb_node in
emulated memory: the colour is bit 0 of __rb_parent_color (RB_RED 0, RB_BLACK 1), the parent
the rest. The rebalancing is lib/rbtree.c's, line for line, without augmentation (the plain
rb_insert_color and rb_erase pass dummy callbacks).
"""

from __future__ import annotations

from kcourse.kapi.registry import function
from kcourse.kernel import structs as S

PC, RIGHT, LEFT = (S.offsetof("rb_node", f) for f in ("__rb_parent_color", "rb_right",
                                                        "rb_left"))
RED, BLACK = 0, 1


class _Tree:
    def __init__(self, machine, root: int = 0):
        self.space, self.root = machine.space, root

    def pc(self, n):
        return self.space.read_u64(n + PC)

    def set_pc(self, n, value):
        self.space.write_u64(n + PC, value)

    def left(self, n):
        return self.space.read_u64(n + LEFT)

    def right(self, n):
        return self.space.read_u64(n + RIGHT)

    def set_left(self, n, v):
        self.space.write_u64(n + LEFT, v)

    def set_right(self, n, v):
        self.space.write_u64(n + RIGHT, v)

    def parent(self, n):
        return self.pc(n) & ~3

    def is_black(self, n):
        return self.pc(n) & 1

    def set_parent(self, n, p):
        self.set_pc(n, p | self.pc(n) & 1)

    def set_parent_color(self, n, p, color):
        self.set_pc(n, p | color)

    def change_child(self, old, new, parent):
        if parent:
            if self.left(parent) == old:
                self.set_left(parent, new)
            else:
                self.set_right(parent, new)
        else:
            self.space.write_u64(self.root, new)

    def rotate_set_parents(self, old, new, color):
        parent = self.parent(old)
        self.set_pc(new, self.pc(old))
        self.set_parent_color(old, new, color)
        self.change_child(old, new, parent)

    def insert(self, node):  # __rb_insert
        parent = self.pc(node)  # rb_red_parent
        while True:
            if not parent:
                self.set_parent_color(node, 0, BLACK)
                return
            if self.is_black(parent):
                return
            gparent = self.pc(parent)
            tmp = self.right(gparent)
            if parent != tmp:  # parent == gparent->rb_left
                if tmp and not self.is_black(tmp):
                    self.set_parent_color(tmp, gparent, BLACK)
                    self.set_parent_color(parent, gparent, BLACK)
                    node = gparent
                    parent = self.parent(node)
                    self.set_parent_color(node, parent, RED)
                    continue
                tmp = self.right(parent)
                if node == tmp:
                    tmp = self.left(node)
                    self.set_right(parent, tmp)
                    self.set_left(node, parent)
                    if tmp:
                        self.set_parent_color(tmp, parent, BLACK)
                    self.set_parent_color(parent, node, RED)
                    parent = node
                    tmp = self.right(node)
                self.set_left(gparent, tmp)
                self.set_right(parent, gparent)
                if tmp:
                    self.set_parent_color(tmp, gparent, BLACK)
                self.rotate_set_parents(gparent, parent, RED)
                return
            tmp = self.left(gparent)
            if tmp and not self.is_black(tmp):
                self.set_parent_color(tmp, gparent, BLACK)
                self.set_parent_color(parent, gparent, BLACK)
                node = gparent
                parent = self.parent(node)
                self.set_parent_color(node, parent, RED)
                continue
            tmp = self.left(parent)
            if node == tmp:
                tmp = self.right(node)
                self.set_left(parent, tmp)
                self.set_right(node, parent)
                if tmp:
                    self.set_parent_color(tmp, parent, BLACK)
                self.set_parent_color(parent, node, RED)
                parent = node
                tmp = self.left(node)
            self.set_right(gparent, tmp)
            self.set_left(parent, gparent)
            if tmp:
                self.set_parent_color(tmp, gparent, BLACK)
            self.rotate_set_parents(gparent, parent, RED)
            return

    def erase(self, node):  # __rb_erase_augmented, then ____rb_erase_color
        child, tmp = self.right(node), self.left(node)
        if not tmp:
            pc = self.pc(node)
            parent = pc & ~3
            self.change_child(node, child, parent)
            if child:
                self.set_pc(child, pc)
                rebalance = 0
            else:
                rebalance = parent if pc & 1 else 0
        elif not child:
            pc = self.pc(node)
            self.set_pc(tmp, pc)
            self.change_child(node, tmp, pc & ~3)
            rebalance = 0
        else:
            successor = child
            tmp = self.left(child)
            if not tmp:
                parent = successor
                child2 = self.right(successor)
            else:
                while tmp:
                    parent = successor
                    successor = tmp
                    tmp = self.left(tmp)
                child2 = self.right(successor)
                self.set_left(parent, child2)
                self.set_right(successor, child)
                self.set_parent(child, successor)
            tmp = self.left(node)
            self.set_left(successor, tmp)
            self.set_parent(tmp, successor)
            pc = self.pc(node)
            self.change_child(node, successor, pc & ~3)
            if child2:
                self.set_parent_color(child2, parent, BLACK)
                rebalance = 0
            else:
                rebalance = parent if self.is_black(successor) else 0
            self.set_pc(successor, pc)
        if rebalance:
            self.erase_color(rebalance)

    def erase_color(self, parent):
        node = 0
        while True:
            sibling = self.right(parent)
            if node != sibling:  # node == parent->rb_left
                if not self.is_black(sibling):
                    tmp1 = self.left(sibling)
                    self.set_right(parent, tmp1)
                    self.set_left(sibling, parent)
                    self.set_parent_color(tmp1, parent, BLACK)
                    self.rotate_set_parents(parent, sibling, RED)
                    sibling = tmp1
                tmp1 = self.right(sibling)
                if not tmp1 or self.is_black(tmp1):
                    tmp2 = self.left(sibling)
                    if not tmp2 or self.is_black(tmp2):
                        self.set_parent_color(sibling, parent, RED)
                        if not self.is_black(parent):
                            self.set_pc(parent, self.pc(parent) | BLACK)
                        else:
                            node = parent
                            parent = self.parent(node)
                            if parent:
                                continue
                        return
                    tmp1 = self.right(tmp2)
                    self.set_left(sibling, tmp1)
                    self.set_right(tmp2, sibling)
                    self.set_right(parent, tmp2)
                    if tmp1:
                        self.set_parent_color(tmp1, sibling, BLACK)
                    tmp1 = sibling
                    sibling = tmp2
                tmp2 = self.left(sibling)
                self.set_right(parent, tmp2)
                self.set_left(sibling, parent)
                self.set_parent_color(tmp1, sibling, BLACK)
                if tmp2:
                    self.set_parent(tmp2, parent)
                self.rotate_set_parents(parent, sibling, BLACK)
                return
            sibling = self.left(parent)
            if not self.is_black(sibling):
                tmp1 = self.right(sibling)
                self.set_left(parent, tmp1)
                self.set_right(sibling, parent)
                self.set_parent_color(tmp1, parent, BLACK)
                self.rotate_set_parents(parent, sibling, RED)
                sibling = tmp1
            tmp1 = self.left(sibling)
            if not tmp1 or self.is_black(tmp1):
                tmp2 = self.right(sibling)
                if not tmp2 or self.is_black(tmp2):
                    self.set_parent_color(sibling, parent, RED)
                    if not self.is_black(parent):
                        self.set_pc(parent, self.pc(parent) | BLACK)
                    else:
                        node = parent
                        parent = self.parent(node)
                        if parent:
                            continue
                    return
                tmp1 = self.left(tmp2)
                self.set_right(sibling, tmp1)
                self.set_left(tmp2, sibling)
                self.set_left(parent, tmp2)
                if tmp1:
                    self.set_parent_color(tmp1, sibling, BLACK)
                tmp1 = sibling
                sibling = tmp2
            tmp2 = self.right(sibling)
            self.set_left(parent, tmp2)
            self.set_right(sibling, parent)
            self.set_parent_color(tmp1, sibling, BLACK)
            if tmp2:
                self.set_parent(tmp2, parent)
            self.rotate_set_parents(parent, sibling, BLACK)
            return


@function("void rb_insert_color(struct rb_node *node, struct rb_root *root)", "lib/rbtree.c")
def rb_insert_color(call, node, root):
    _Tree(call.machine, root).insert(node)


@function("void rb_erase(struct rb_node *node, struct rb_root *root)", "lib/rbtree.c")
def rb_erase(call, node, root):
    _Tree(call.machine, root).erase(node)


def _edge(call, root: int, side: int) -> int:
    space = call.machine.space
    n = space.read_u64(root)
    while n and space.read_u64(n + side):
        n = space.read_u64(n + side)
    return n


@function("struct rb_node *rb_first(const struct rb_root *root)", "lib/rbtree.c")
def rb_first(call, root):
    return _edge(call, root, LEFT)


@function("struct rb_node *rb_last(const struct rb_root *root)", "lib/rbtree.c")
def rb_last(call, root):
    return _edge(call, root, RIGHT)


def _step(call, node: int, down: int, up: int) -> int:
    t = _Tree(call.machine)
    if t.pc(node) == node:  # RB_EMPTY_NODE
        return 0
    if t.space.read_u64(node + down):
        node = t.space.read_u64(node + down)
        while t.space.read_u64(node + up):
            node = t.space.read_u64(node + up)
        return node
    parent = t.parent(node)
    while parent and node == t.space.read_u64(parent + down):
        node, parent = parent, t.parent(parent)
    return parent


@function("struct rb_node *rb_next(const struct rb_node *node)", "lib/rbtree.c")
def rb_next(call, node):
    return _step(call, node, RIGHT, LEFT)


@function("struct rb_node *rb_prev(const struct rb_node *node)", "lib/rbtree.c")
def rb_prev(call, node):
    return _step(call, node, LEFT, RIGHT)
