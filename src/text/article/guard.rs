//! The parse that proves a page's shape: the page goes through the HTML parser the extractor
//! uses (html5ever), into a sink that keeps only each node's parent, and is stopped as soon as
//! an element nests deeper than allowed or too many are made.
//!
//! Why beside the cheap scan of [`super::nesting`]: that scan models the parser's rules, and a
//! model has holes (elements closed only in some contexts, raw text ended by what the
//! tokenizer does not take as an end tag, foreign content): each one let a page of a few
//! hundred thousand nested elements reach the tree builder, whose scope checks walk its stack
//! of open elements at every tag (hours of CPU). Here the parser itself decides, and it is
//! stopped within [`CHUNK`] bytes of the limit, before its stack grows. Owns [`check`].

use std::borrow::Cow;
use std::cell::{Cell, Ref, RefCell};
use std::rc::Rc;

use html5ever::tendril::{StrTendril, TendrilSink};
use html5ever::tree_builder::{ElemName, ElementFlags, NodeOrText, QuirksMode, TreeSink};
use html5ever::{Attribute, LocalName, Namespace, QualName};

/// Input fed to the parser between two looks at the sink.
const CHUNK: usize = 1024;

/// What the parse found wrong with the page's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Overrun {
    /// An element nests deeper than the limit.
    Depth,
    /// More elements than the limit: how many nodes were made when the parse was stopped
    /// (elements, and comments past the bound on memory).
    Elements(usize),
}

/// Parse `html` as the extractor will, and stop at the first element past `max_depth` levels
/// or `max_elements` elements.
pub(super) fn check(html: &str, max_depth: usize, max_elements: usize) -> Result<(), Overrun> {
    let found = Rc::new(Cell::new(None));
    let sink = Shape {
        nodes: RefCell::new(vec![Node::new(QualName::new(
            None,
            Namespace::from(""),
            LocalName::from(""),
        ))]),
        max_depth,
        max_elements,
        elements: Cell::new(0),
        found: found.clone(),
    };
    // The options dom_query (under dom_smoothie) parses with: with scripting on, `<noscript>`
    // would be text here and markup there, and what it holds went unmeasured.
    let opts = html5ever::ParseOpts {
        tree_builder: html5ever::tree_builder::TreeBuilderOpts {
            scripting_enabled: false,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut parser = html5ever::parse_document(sink, opts);
    let mut rest = html;
    while !rest.is_empty() {
        let mut cut = rest.len().min(CHUNK);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        parser.process(StrTendril::from_slice(&rest[..cut]));
        rest = &rest[cut..];
        if let Some(overrun) = found.get() {
            return Err(overrun);
        }
    }
    parser.finish();
    found.get().map_or(Ok(()), Err)
}

struct Node {
    name: QualName,
    parent: Option<usize>,
    /// Nodes appended to it (some may have moved since: their `parent` says).
    children: Vec<usize>,
    template_contents: Option<usize>,
    html_annotation: bool,
}

impl Node {
    fn new(name: QualName) -> Node {
        Node {
            name,
            parent: None,
            children: Vec::new(),
            template_contents: None,
            html_annotation: false,
        }
    }
}

/// A tree of parents only; node 0 is the document.
struct Shape {
    nodes: RefCell<Vec<Node>>,
    max_depth: usize,
    max_elements: usize,
    elements: Cell<usize>,
    found: Rc<Cell<Option<Overrun>>>,
}

impl Shape {
    fn add(&self, node: Node) -> usize {
        let mut nodes = self.nodes.borrow_mut();
        nodes.push(node);
        if nodes.len() > self.max_elements.saturating_mul(4).saturating_add(16) {
            // Comments too, with room for them: a bound on memory.
            self.overrun(Overrun::Elements(nodes.len()));
        }
        nodes.len() - 1
    }

    /// The first overrun found is the one reported; the parse is stopped at the next look.
    fn overrun(&self, what: Overrun) {
        if self.found.get().is_none() {
            self.found.set(Some(what));
        }
    }

    /// `child` now under `parent`: its depth is checked by walking up (at most the limit).
    fn attach(&self, parent: usize, child: NodeOrText<usize>) {
        let NodeOrText::AppendNode(child) = child else {
            return;
        };
        if self.found.get().is_some() {
            // Already refused: no more work until the parse is stopped.
            return;
        }
        let mut nodes = self.nodes.borrow_mut();
        nodes[child].parent = Some(parent);
        nodes[parent].children.push(child);
        let mut depth = 0;
        let mut at = Some(child);
        while let Some(n) = at {
            depth += 1;
            if depth > self.max_depth + 3 {
                // The document node, `<html>` and `<body>` are not levels of the page's own.
                self.overrun(Overrun::Depth);
                return;
            }
            at = nodes[n].parent;
        }
    }
}

/// An element's name, borrowed from the sink.
#[derive(Debug)]
struct NameRef<'a>(Ref<'a, Vec<Node>>, usize);

impl ElemName for NameRef<'_> {
    fn ns(&self) -> &Namespace {
        &self.0[self.1].name.ns
    }

    fn local_name(&self) -> &LocalName {
        &self.0[self.1].name.local
    }
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.name)
    }
}

impl TreeSink for Shape {
    type Handle = usize;
    type Output = ();
    type ElemName<'a> = NameRef<'a>;

    fn finish(self) {}

    fn parse_error(&self, _msg: Cow<'static, str>) {}

    fn get_document(&self) -> usize {
        0
    }

    fn elem_name<'a>(&'a self, target: &'a usize) -> NameRef<'a> {
        NameRef(self.nodes.borrow(), *target)
    }

    fn create_element(&self, name: QualName, _attrs: Vec<Attribute>, flags: ElementFlags) -> usize {
        self.elements.set(self.elements.get() + 1);
        if self.elements.get() > self.max_elements {
            self.overrun(Overrun::Elements(self.elements.get()));
        }
        let mut node = Node::new(name);
        node.html_annotation = flags.mathml_annotation_xml_integration_point;
        let id = self.add(node);
        if flags.template {
            let contents = self.add(Node::new(QualName::new(
                None,
                Namespace::from(""),
                LocalName::from(""),
            )));
            // Under its template, so what it holds is measured from the page's root (the
            // builder's stack holds templates and their contents alike).
            let mut nodes = self.nodes.borrow_mut();
            nodes[id].template_contents = Some(contents);
            nodes[contents].parent = Some(id);
        }
        id
    }

    fn create_comment(&self, _text: StrTendril) -> usize {
        self.add(Node::new(QualName::new(
            None,
            Namespace::from(""),
            LocalName::from(""),
        )))
    }

    fn create_pi(&self, target: StrTendril, _data: StrTendril) -> usize {
        self.create_comment(target)
    }

    fn append(&self, parent: &usize, child: NodeOrText<usize>) {
        self.attach(*parent, child);
    }

    fn append_based_on_parent_node(
        &self,
        element: &usize,
        prev_element: &usize,
        child: NodeOrText<usize>,
    ) {
        let parent = self.nodes.borrow()[*element].parent;
        match parent {
            Some(_) => self.append_before_sibling(element, child),
            None => self.attach(*prev_element, child),
        }
    }

    fn append_doctype_to_document(&self, _: StrTendril, _: StrTendril, _: StrTendril) {}

    fn get_template_contents(&self, target: &usize) -> usize {
        self.nodes.borrow()[*target]
            .template_contents
            .unwrap_or(*target)
    }

    fn same_node(&self, x: &usize, y: &usize) -> bool {
        x == y
    }

    fn set_quirks_mode(&self, _mode: QuirksMode) {}

    fn append_before_sibling(&self, sibling: &usize, new_node: NodeOrText<usize>) {
        let parent = self.nodes.borrow()[*sibling].parent;
        if let Some(parent) = parent {
            self.attach(parent, new_node);
        }
    }

    fn add_attrs_if_missing(&self, _target: &usize, _attrs: Vec<Attribute>) {}

    fn remove_from_parent(&self, target: &usize) {
        self.nodes.borrow_mut()[*target].parent = None;
    }

    fn reparent_children(&self, node: &usize, new_parent: &usize) {
        let mut nodes = self.nodes.borrow_mut();
        let children = std::mem::take(&mut nodes[*node].children);
        for c in children {
            if nodes[c].parent == Some(*node) {
                nodes[c].parent = Some(*new_parent);
                nodes[*new_parent].children.push(c);
            }
        }
    }

    fn is_mathml_annotation_xml_integration_point(&self, handle: &usize) -> bool {
        self.nodes.borrow()[*handle].html_annotation
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_pages_pass_and_deep_ones_stop_early() {
        let page = format!(
            "<html><body>{}</body></html>",
            "<div><p>text <b>bold</b></p><ul><li>a<li>b</ul></div>".repeat(500)
        );
        assert_eq!(check(&page, 256, 50_000), Ok(()));
        assert_eq!(
            check(&"<div>".repeat(300), 256, 50_000),
            Err(Overrun::Depth)
        );
        assert_eq!(check(&"<div>".repeat(250), 256, 50_000), Ok(()));
        assert_eq!(
            check(&"<p>x</p>".repeat(1000), 256, 500),
            Err(Overrun::Elements(501))
        );
    }

    /// The holes a review found in the cheap scan, each a page the parser nests deep: here
    /// the parser's own tree says so.
    #[test]
    fn pages_the_scan_misjudged_are_stopped() {
        let divs = "<div>".repeat(300);
        for page in [
            "<rt>".repeat(300),
            "<optgroup>".repeat(300),
            "<li><dd>".repeat(300),
            format!("<title></titlex><!--</title>{divs}"),
            format!("<script><!--<script></script><!--</script>{divs}"),
            "<svg><foreignObject><p></svg>".repeat(300),
            format!("<p><svg></p>{}", "<section/>".repeat(300)),
            format!("<math><mi><mglyph><style>{divs}"),
            format!("<svg><![CDATA[><!--]]>{divs}"),
            // Scripting is off in the extractor's parse: `<noscript>` holds markup.
            format!("<noscript>{}", "<rt>".repeat(300)),
            "<template>".repeat(300),
            format!("<template>{}", "<rt>".repeat(190)).repeat(3),
        ] {
            assert_eq!(check(&page, 256, 50_000), Err(Overrun::Depth), "{page:.60}");
        }
    }

    /// Stopped within a chunk of the limit: 800,000 nested `<div>`s (4 MiB) take no longer
    /// than the first few thousand.
    #[test]
    fn a_huge_deep_page_is_stopped_at_once() {
        let page = "<div>".repeat(800_000);
        let started = std::time::Instant::now();
        assert_eq!(check(&page, 256, 50_000), Err(Overrun::Depth));
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
}
