"""How many pages a PDF holds, found before pypdf opens its whole page tree.

pypdf builds a page object for every leaf of the page tree the first time anyone asks
for a page or the page count, and that cannot be interrupted: 100 000 pages take 13 s;
a few kilobytes of tree listing one page 100 000 times take seconds. Extraction and
stamping ask here first, so no PDF costs a request more than its first `limit` pages.
"""

# Far beyond a contract or a bound scan (a few hundred pages); reading or stamping this
# many takes a few seconds (docs/hardening.md).
MAX_PAGES = 5_000
# pypdf refuses deeper trees too; a real tree of MAX_PAGES is three or four levels deep.
_MAX_DEPTH = 100


class TooManyPages(Exception):
    """The page tree holds more pages than the archive reads."""

    def __init__(self, declared: int | None, limit: int):
        self.declared = declared  # what the tree's root says, when that is already too many
        self.limit = limit
        counted = f"共 {declared} 页，" if declared is not None else ""
        super().__init__(f"PDF 页数过多（{counted}超过 {limit} 页的上限）")


def require_at_most(reader, limit: int = MAX_PAGES) -> None:
    """Raise TooManyPages when the page tree of `reader` (a pypdf PdfReader) holds more
    than `limit` pages.

    The /Count of the tree's root is read first; it may lie, so the tree is then walked
    entry by entry and the walk stops as soon as it passes the limit. A tree too damaged
    to walk is left to pypdf, which reports the damage in its own words.
    """
    from pypdf.generic import DictionaryObject

    root = reader.root_object.get("/Pages")
    root = root.get_object() if root is not None else None
    if not isinstance(root, DictionaryObject):
        return
    declared = root.get("/Count")
    if isinstance(declared, int) and declared > limit:
        raise TooManyPages(declared, limit)
    pages = entries = 0
    # The nodes above the kids being walked: a node listing one of them is a cycle,
    # skipped here and refused by pypdf.
    path = [id(root)]
    stack = [iter(_kids(root))]
    while stack:
        kid = next(stack[-1], _END)
        if kid is _END:
            stack.pop()
            path.pop()
            continue
        entries += 1
        node = kid.get_object() if kid is not None else None
        if not isinstance(node, DictionaryObject) or id(node) in path:
            continue
        if "/Kids" in node:
            if len(stack) < _MAX_DEPTH:
                path.append(id(node))
                stack.append(iter(_kids(node)))
        else:
            pages += 1
        # Intermediate nodes are counted too: a real tree has fewer of them than pages.
        if pages > limit or entries > 2 * limit:
            raise TooManyPages(None, limit)


_END = object()


def _kids(node) -> list:
    from pypdf.generic import ArrayObject

    kids = node.get("/Kids")
    kids = kids.get_object() if kids is not None else None
    return list(kids) if isinstance(kids, ArrayObject) else []
