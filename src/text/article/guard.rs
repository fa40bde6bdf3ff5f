//! The parse that proves a page's shape: the page goes through the HTML parser the extractor
//! uses (html5ever), into a sink that keeps only each node's parent, and is stopped as soon as
//! an element nests deeper than allowed, too many elements, nodes or markup errors are made,
//! or the parse has taken its CPU time (see [`Limits`]).
//!
//! Why the parser and not a cheaper scan of the tags: such a scan (newswatch had one) models
//! the parser's rules, and a model has holes (elements closed only in some contexts, raw text
//! ended by what the tokenizer does not take as an end tag, foreign content): each one let a
//! page of a few hundred thousand nested elements reach the tree builder, whose scope checks
//! walk its stack of open elements at every tag (hours of CPU). Here the parser itself
//! decides, and it is stopped within [`CHUNK`] bytes of the limit, before its stack grows.
//! The pages that fooled the scan are its tests. Owns [`check`].

use std::borrow::Cow;
use std::cell::{Cell, Ref, RefCell};
use std::rc::Rc;
use std::time::Duration;

use html5ever::tendril::{StrTendril, TendrilSink};
use html5ever::tree_builder::{ElemName, ElementFlags, NodeOrText, QuirksMode, TreeSink};
use html5ever::{Attribute, LocalName, Namespace, QualName};

use crate::aside::thread_cpu_time;
use crate::panics::catch_quietly;

/// Input fed to the parser between two looks at the sink.
const CHUNK: usize = 1024;

/// The bounds a page's parse must stay within.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// Levels of elements under `<body>` (or `<head>`).
    pub depth: usize,
    /// Elements made.
    pub elements: usize,
    /// Nodes made: elements, comments, processing instructions (a bound on memory, with
    /// room for comments).
    pub nodes: usize,
    /// Markup errors the parser met. Each is a token the tree builder still handles, some by
    /// walking its stack of open elements (a stray end tag): without a bound, a page of
    /// 800,000 `</x>` under 250 open elements took 1.1 s to parse here and as long again in
    /// the extractor, while making no element at all.
    pub errors: usize,
    /// CPU time the parse may take, the last word on its cost: the bounds above are the
    /// known ways a page makes the parser work, and the parser has others (a tag of 300,000
    /// distinct attributes, each compared with every one before it, took 60 s here and as
    /// long again in the extractor). Checked after each [`CHUNK`] and every [`TICKS`] calls
    /// into the sink, where the parse is stopped mid-chunk (work the tree builder held back,
    /// such as text inside a table, is done all at once later); CPU time of the thread, so a
    /// busy machine does not refuse a page.
    pub cpu: Duration,
    /// Attribute comparisons the extractor's tree would make to merge the attributes of
    /// repeated `<html>` and `<body>` tags into the first one (each new name against every
    /// name it has): work this parse does not do, so counted instead of timed.
    pub merges: u64,
}

/// What the parse found wrong with the page's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Overrun {
    /// An element nests deeper than the limit.
    Depth,
    /// More elements than the limit: how many were made when the parse was stopped.
    Elements(usize),
    /// More nodes than the limit: how many were made when the parse was stopped.
    Nodes(usize),
    /// More markup errors than the limit.
    Errors,
    /// The parse took more CPU time than the limit.
    Slow,
    /// The extractor's tree would make more attribute comparisons than the limit.
    Merges,
    /// The parser panicked (a bug in it, caught here).
    Crashed,
}

/// Calls into the sink between two looks at the clock.
const TICKS: u32 = 4096;

/// The payload of the unwind that stops a parse from inside the sink.
struct Stop;

/// Parse `html` as the extractor will, and stop at the first element, or markup error, past
/// the `limits`.
pub(super) fn check(html: &str, limits: Limits) -> Result<(), Overrun> {
    let found = Rc::new(Cell::new(None));
    let sink = Shape {
        nodes: RefCell::new(vec![Node::new(QualName::new(
            None,
            Namespace::from(""),
            LocalName::from(""),
        ))]),
        limits,
        elements: Cell::new(0),
        errors: Cell::new(0),
        merges: Cell::new(0),
        deadline: thread_cpu_time().saturating_add(limits.cpu),
        ticks: Cell::new(0),
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
    let deadline = sink.deadline;
    let parsed = catch_quietly(|| {
        let mut parser = html5ever::parse_document(sink, opts);
        let mut rest = html;
        while !rest.is_empty() {
            let mut cut = rest.len().min(CHUNK);
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            parser.process(StrTendril::from_slice(&rest[..cut]));
            rest = &rest[cut..];
            if found.get().is_some() {
                return;
            }
            if thread_cpu_time() > deadline {
                found.set(Some(Overrun::Slow));
                return;
            }
        }
        parser.finish();
    });
    match (parsed, found.get()) {
        (_, Some(overrun)) => Err(overrun),
        (Some(()), None) => Ok(()),
        (None, None) => Err(Overrun::Crashed),
    }
}

struct Node {
    name: QualName,
    parent: Option<usize>,
    /// Nodes appended to it (some may have moved since: their `parent` says).
    children: Vec<usize>,
    template_contents: Option<usize>,
    html_annotation: bool,
    /// Attributes it was made with, and those merged into it since (at most).
    attrs: usize,
}

impl Node {
    fn new(name: QualName) -> Node {
        Node {
            name,
            parent: None,
            children: Vec::new(),
            template_contents: None,
            html_annotation: false,
            attrs: 0,
        }
    }
}

/// A tree of parents only; node 0 is the document.
struct Shape {
    nodes: RefCell<Vec<Node>>,
    limits: Limits,
    elements: Cell<usize>,
    errors: Cell<usize>,
    merges: Cell<u64>,
    /// The thread's CPU time past which the parse is stopped.
    deadline: Duration,
    ticks: Cell<u32>,
    found: Rc<Cell<Option<Overrun>>>,
}

impl Shape {
    fn add(&self, node: Node) -> usize {
        let mut nodes = self.nodes.borrow_mut();
        nodes.push(node);
        if nodes.len() > self.limits.nodes {
            self.overrun(Overrun::Nodes(nodes.len()));
        }
        nodes.len() - 1
    }

    /// A call into the sink: every [`TICKS`] of them, the parse is stopped here when it is
    /// past its deadline (unwound with [`Stop`], caught in [`check`]): a chunk's work can be
    /// long, and the tree builder does some of it only later, all at once.
    fn tick(&self) {
        let n = self.ticks.get().wrapping_add(1);
        self.ticks.set(n);
        if n.is_multiple_of(TICKS) && thread_cpu_time() > self.deadline {
            self.overrun(Overrun::Slow);
            // Unwound, not panicked: no panic hook runs and no backtrace is taken.
            std::panic::resume_unwind(Box::new(Stop));
        }
    }

    /// The first overrun found is the one reported; the parse is stopped at the next look.
    fn overrun(&self, what: Overrun) {
        if self.found.get().is_none() {
            self.found.set(Some(what));
        }
    }

    /// `child` now under `parent`: its depth is checked by walking up (at most the limit).
    fn attach(&self, parent: usize, child: NodeOrText<usize>) {
        self.tick();
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
            if depth > self.limits.depth + 3 {
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

    fn parse_error(&self, _msg: Cow<'static, str>) {
        self.tick();
        self.errors.set(self.errors.get() + 1);
        if self.errors.get() > self.limits.errors {
            self.overrun(Overrun::Errors);
        }
    }

    fn get_document(&self) -> usize {
        0
    }

    fn elem_name<'a>(&'a self, target: &'a usize) -> NameRef<'a> {
        self.tick();
        NameRef(self.nodes.borrow(), *target)
    }

    fn create_element(&self, name: QualName, attrs: Vec<Attribute>, flags: ElementFlags) -> usize {
        self.tick();
        self.elements.set(self.elements.get() + 1);
        if self.elements.get() > self.limits.elements {
            self.overrun(Overrun::Elements(self.elements.get()));
        }
        let mut node = Node::new(name);
        node.html_annotation = flags.mathml_annotation_xml_integration_point;
        node.attrs = attrs.len();
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
        self.tick();
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
        self.tick();
        x == y
    }

    fn set_quirks_mode(&self, _mode: QuirksMode) {}

    fn append_before_sibling(&self, sibling: &usize, new_node: NodeOrText<usize>) {
        let parent = self.nodes.borrow()[*sibling].parent;
        if let Some(parent) = parent {
            self.attach(parent, new_node);
        }
    }

    fn add_attrs_if_missing(&self, target: &usize, attrs: Vec<Attribute>) {
        self.tick();
        // dom_query compares each new name with every name the element has; the names are
        // then its (at most) as many more.
        let mut nodes = self.nodes.borrow_mut();
        let node = &mut nodes[*target];
        let work = (node.attrs as u64).saturating_mul(attrs.len() as u64);
        node.attrs = node.attrs.saturating_add(attrs.len());
        drop(nodes);
        self.merges.set(self.merges.get().saturating_add(work));
        if self.merges.get() > self.limits.merges {
            self.overrun(Overrun::Merges);
        }
    }

    fn remove_from_parent(&self, target: &usize) {
        self.tick();
        self.nodes.borrow_mut()[*target].parent = None;
    }

    fn reparent_children(&self, node: &usize, new_parent: &usize) {
        self.tick();
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
mod tests;
