// The review page: one frame kept for review at a time, the detector's boxes drawn over it in the frame's own pixels
// (an SVG with the frame's size as its viewBox, so boxes stay on the picture at any displayed size). Tap a box to select
// it, accept or reject it, drag it or its corners to redraw it, drag on the picture to add one, pick its stage. Every
// edit is kept as a draft in this browser until it is saved, so a reload or a flat battery loses nothing; a save that
// someone else overtook shows both versions.
(function () {
  'use strict';

  var root = document.getElementById('review');
  if (!root) { return; }
  var runId = root.dataset.run;
  var maySave = root.dataset.maySave === 'true';
  var api = '/api/runs/' + encodeURIComponent(runId) + '/review';
  var svgNs = 'http://www.w3.org/2000/svg';
  var image = document.getElementById('frame-image');
  var svg = document.getElementById('frame-boxes');
  var frameBox = document.getElementById('frame');
  var message = document.getElementById('review-message');

  var stages = [];          // the picker's choices, bloom order
  var queue = [];           // the run's frames in the order loaded first (saves do not reorder them under the reviewer)
  var current = null;       // { sample, baseRevision, saved }
  var items = [];           // the boxes being edited
  var selected = -1;
  var drawing = false;
  var zoom = 1;
  var undoStack = [];
  var redoStack = [];
  var conflict = null;      // the other reviewer's labels when a save was refused
  var conflictStatus = null; // what that refused save said (Labelled or Skipped)

  function draftKey(id) { return 'treescout.review.' + runId + '.' + id; }

  function readDraft(id) {
    try { return JSON.parse(localStorage.getItem(draftKey(id)) || 'null'); } catch (e) { return null; }
  }

  function keepDraft() {
    if (!current) { return; }
    localStorage.setItem(draftKey(current.sample.id), JSON.stringify({ baseRevision: current.baseRevision, items: items, keptAt: new Date().toISOString() }));
    markQueue();
  }

  function say(text, kind) {
    message.textContent = text || '';
    message.className = 'message' + (kind ? ' ' + kind : '');
  }

  function json(response) {
    return response.json().then(function (body) { return { status: response.status, ok: response.ok, body: body }; });
  }

  // ---- the boxes being edited ----

  // Proposals the reviewer has not judged yet are saved as accepted (with their proposed stage): the button says so.
  function itemsFrom(sample, labels) {
    var byProposal = {};
    var added = [];
    if (labels && labels.status === 'Labelled') {
      labels.boxes.forEach(function (b) {
        if (b.proposalIndex === null || b.proposalIndex === undefined) { added.push(b); } else { byProposal[b.proposalIndex] = b; }
      });
    }
    var judged = labels && labels.status === 'Labelled';
    var list = sample.proposals.map(function (p, i) {
      var b = byProposal[i];
      if (b) { return { proposalIndex: i, x: b.x, y: b.y, w: b.w, h: b.h, stage: b.stage || null, origin: b.origin, decision: 'accepted', score: p.score }; }
      return { proposalIndex: i, x: p.x, y: p.y, w: p.w, h: p.h, stage: p.stage, origin: 'Accepted', decision: judged ? 'rejected' : 'pending', score: p.score };
    });
    added.forEach(function (b) { list.push({ proposalIndex: null, x: b.x, y: b.y, w: b.w, h: b.h, stage: b.stage || null, origin: 'Added', decision: 'accepted' }); });
    return list;
  }

  function boxesToSave() {
    return items.filter(function (it) { return it.decision !== 'rejected'; }).map(function (it) {
      return { x: it.x, y: it.y, w: it.w, h: it.h, stage: it.stage, origin: it.origin, proposalIndex: it.proposalIndex };
    });
  }

  function change(mutate) {
    undoStack.push(JSON.stringify(items));
    redoStack = [];
    mutate();
    keepDraft();
    render();
  }

  function restore(from, to) {
    if (!from.length) { return; }
    to.push(JSON.stringify(items));
    items = JSON.parse(from.pop());
    if (selected >= items.length) { selected = -1; }
    keepDraft();
    render();
  }

  function setDecision(decision) {
    if (selected < 0) { say('Select a box first: tap it on the frame.', 'error'); return; }
    change(function () { items[selected].decision = decision; });
  }

  function setStage(stage) {
    if (selected < 0) { say('Select a box first: tap it on the frame.', 'error'); return; }
    change(function () {
      var it = items[selected];
      it.stage = stage;
      if (it.decision === 'rejected') { it.decision = 'accepted'; }
    });
  }

  // ---- drawing ----

  function el(name, attrs, parent) {
    var e = document.createElementNS(svgNs, name);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (parent) { parent.appendChild(e); }
    return e;
  }

  // Frame pixels per screen pixel: handles and labels keep a finger's size whatever the displayed scale.
  function scale() {
    var r = svg.getBoundingClientRect();
    return r.width > 0 ? current.sample.width / r.width : 1;
  }

  function stageShort(stage) { return stage ? stage.replace(/^Bbch/i, '') : '?'; }

  function render() {
    while (svg.firstChild) { svg.removeChild(svg.firstChild); }
    if (!current) { return; }
    var k = scale();
    // Large boxes first so a small box inside a large one stays on top and can be tapped.
    var order = items.map(function (_, i) { return i; }).sort(function (a, b) { return items[b].w * items[b].h - items[a].w * items[a].h; });
    if (conflict) {
      conflict.boxes.forEach(function (b) {
        el('rect', { x: b.x, y: b.y, width: b.w, height: b.h, class: 'box theirs' }, svg);
      });
    }
    order.forEach(function (i) {
      var it = items[i];
      var g = el('g', { class: 'box-group', 'data-index': i }, svg);
      el('rect', { x: it.x, y: it.y, width: it.w, height: it.h, class: 'box ' + it.decision + (it.origin === 'Added' ? ' added' : '') + (i === selected ? ' selected' : ''), 'data-index': i }, g);
      var label = el('text', { x: it.x + (3 * k), y: Math.max(it.y - (4 * k), 13 * k), class: 'box-label ' + it.decision, 'font-size': 13 * k, 'data-index': i }, g);
      label.textContent = it.decision === 'rejected' ? '✕' : stageShort(it.stage);
    });
    if (selected >= 0 && items[selected].decision !== 'rejected') {
      var s = items[selected];
      var size = 22 * k;
      corners(s).forEach(function (c) {
        el('rect', { x: c.x - (size / 2), y: c.y - (size / 2), width: size, height: size, class: 'handle', 'data-handle': c.name }, svg);
      });
    }
    renderPanel();
  }

  function corners(b) {
    return [
      { name: 'nw', x: b.x, y: b.y }, { name: 'ne', x: b.x + b.w, y: b.y },
      { name: 'sw', x: b.x, y: b.y + b.h }, { name: 'se', x: b.x + b.w, y: b.y + b.h },
    ];
  }

  function renderPanel() {
    var it = selected >= 0 ? items[selected] : null;
    var hint = document.getElementById('box-hint');
    if (it) {
      var what = it.origin === 'Added' ? 'Added box' : 'Proposal ' + (it.proposalIndex + 1) + ' (score ' + it.score.toFixed(2) + ')';
      hint.textContent = what + ': ' + (it.decision === 'rejected' ? 'rejected' : it.decision === 'pending' ? 'not judged yet' : it.origin === 'Redrawn' ? 'redrawn' : 'accepted') +
        ', stage ' + (it.stage ? 'BBCH ' + stageShort(it.stage) : 'not set') + '.';
    } else {
      hint.textContent = 'Tap a box on the frame, then its stage (keys 1–9 and 0, in bloom order).';
    }
    document.querySelectorAll('#stage-picker button').forEach(function (b) {
      b.setAttribute('aria-pressed', it && it.stage === b.dataset.stage ? 'true' : 'false');
      b.disabled = !it;
    });
    var pending = items.filter(function (x) { return x.decision === 'pending'; }).length;
    var kept = items.filter(function (x) { return x.decision !== 'rejected'; }).length;
    document.getElementById('pending-note').textContent = kept + ' boxes will be saved' +
      (pending ? ', ' + pending + ' of them not judged yet (saved as accepted with the stage shown).' : '.');
    document.getElementById('undo').disabled = !undoStack.length;
    document.getElementById('redo').disabled = !redoStack.length;
    document.getElementById('accept').disabled = !it;
    document.getElementById('reject').disabled = !it;
    document.getElementById('draw').setAttribute('aria-pressed', drawing ? 'true' : 'false');
    frameBox.classList.toggle('drawing', drawing);
  }

  // ---- pointer: select, move, resize, draw (mouse, pen and finger alike) ----

  var gesture = null;

  function framePoint(e) {
    var p = svg.createSVGPoint();
    p.x = e.clientX;
    p.y = e.clientY;
    var f = p.matrixTransform(svg.getScreenCTM().inverse());
    return { x: clamp(f.x, 0, current.sample.width), y: clamp(f.y, 0, current.sample.height) };
  }

  function clamp(v, lo, hi) { return Math.min(hi, Math.max(lo, v)); }

  svg.addEventListener('pointerdown', function (e) {
    if (!current || e.button > 0) { return; }
    e.preventDefault();
    var handle = e.target.getAttribute('data-handle');
    var index = e.target.getAttribute('data-index');
    if (!maySave) { selected = index === null ? -1 : Number(index); render(); return; }
    svg.setPointerCapture(e.pointerId);
    var at = framePoint(e);
    var before = JSON.stringify(items);
    if (handle && !drawing) {
      gesture = { kind: 'resize', handle: handle, start: at, box: copy(items[selected]), before: before, moved: false };
    } else if (index !== null && !drawing) {
      selected = Number(index);
      gesture = { kind: 'move', start: at, box: copy(items[selected]), before: before, moved: false };
      render();
    } else {
      gesture = { kind: 'draw', start: at, before: before, moved: false, index: -1 };
    }
  });

  svg.addEventListener('pointermove', function (e) {
    if (!gesture) { return; }
    var at = framePoint(e);
    var dx = at.x - gesture.start.x;
    var dy = at.y - gesture.start.y;
    // A finger wobbles: a tap moves less than 6 screen pixels.
    if (!gesture.moved && Math.abs(dx) / scale() < 6 && Math.abs(dy) / scale() < 6) { return; }
    gesture.moved = true;
    if (gesture.kind === 'move') {
      var b = gesture.box;
      var it = items[selected];
      it.x = clamp(b.x + dx, 0, current.sample.width - b.w);
      it.y = clamp(b.y + dy, 0, current.sample.height - b.h);
      redrawn(it);
    } else if (gesture.kind === 'resize') {
      var r = resized(gesture.box, gesture.handle, at);
      Object.assign(items[selected], r);
      redrawn(items[selected]);
    } else {
      if (gesture.index < 0) {
        items.push({ proposalIndex: null, x: at.x, y: at.y, w: 1, h: 1, stage: null, origin: 'Added', decision: 'accepted' });
        gesture.index = items.length - 1;
        selected = gesture.index;
      }
      Object.assign(items[gesture.index], spanning(gesture.start, at));
    }
    render();
  });

  function endGesture(e) {
    if (!gesture) { return; }
    var g = gesture;
    gesture = null;
    if (svg.hasPointerCapture(e.pointerId)) { svg.releasePointerCapture(e.pointerId); }
    if (g.kind === 'draw' && g.index >= 0) {
      var added = items[g.index];
      if (added.w < 4 || added.h < 4) {
        items.splice(g.index, 1);
        selected = -1;
      } else {
        drawing = false;
        say('Box added: now pick its stage.', 'ok');
      }
    } else if (g.kind === 'draw' && !g.moved) {
      selected = -1; // a tap on the picture unselects
    }
    if (JSON.stringify(items) !== g.before) {
      undoStack.push(g.before);
      redoStack = [];
      keepDraft();
    }
    render();
  }

  svg.addEventListener('pointerup', endGesture);
  svg.addEventListener('pointercancel', endGesture);

  function copy(b) { return { x: b.x, y: b.y, w: b.w, h: b.h }; }

  function redrawn(it) {
    if (it.origin !== 'Added') { it.origin = 'Redrawn'; }
    it.decision = 'accepted';
  }

  function spanning(a, b) {
    return { x: Math.min(a.x, b.x), y: Math.min(a.y, b.y), w: Math.abs(a.x - b.x), h: Math.abs(a.y - b.y) };
  }

  function resized(b, handle, at) {
    var left = b.x, top = b.y, right = b.x + b.w, bottom = b.y + b.h;
    if (handle.indexOf('w') >= 0) { left = at.x; } else { right = at.x; }
    if (handle.indexOf('n') >= 0) { top = at.y; } else { bottom = at.y; }
    var r = spanning({ x: left, y: top }, { x: right, y: bottom });
    r.w = Math.max(r.w, 1);
    r.h = Math.max(r.h, 1);
    return r;
  }

  // ---- frames ----

  function loadQueue() {
    return fetch(api, { headers: { Accept: 'application/json' } }).then(json).then(function (r) {
      if (!r.ok) { say(r.body.error, 'error'); return; }
      var known = {};
      queue.forEach(function (q, i) { known[q.id] = i; });
      r.body.samples.forEach(function (s) { if (known[s.id] === undefined) { queue.push(s); } else { queue[known[s.id]] = s; } });
      showProgress(r.body.progress);
      renderQueue();
    });
  }

  function showProgress(p) {
    var el2 = document.getElementById('progress');
    el2.innerHTML = '';
    [[p.samples - p.labelled - p.skipped, ' to review · '], [p.labelled, ' labelled · '], [p.skipped, ' skipped']].forEach(function (part) {
      var strong = document.createElement('strong');
      strong.textContent = String(part[0]);
      el2.appendChild(strong);
      el2.appendChild(document.createTextNode(part[1]));
    });
    document.body.dataset.reviewed = String(p.labelled + p.skipped);
  }

  function statusWord(q) {
    if (readDraft(q.id)) { return 'draft'; }
    return q.status === 'Labelled' ? 'labelled' : q.status === 'Skipped' ? 'skipped' : 'to review';
  }

  function renderQueue() {
    var list = document.getElementById('queue');
    list.innerHTML = '';
    queue.forEach(function (q) {
      var li = document.createElement('li');
      var b = document.createElement('button');
      b.type = 'button';
      b.dataset.sample = q.id;
      b.className = 'queue-item' + (current && current.sample.id === q.id ? ' current' : '');
      var name = document.createElement('span');
      name.textContent = q.id;
      var facts = document.createElement('span');
      facts.className = 'queue-facts';
      facts.textContent = (q.reason === 'Uncertain' ? 'uncertain ' + q.uncertainty.toFixed(2) : 'every nth') + ' · ' + q.proposals + ' boxes';
      var status = document.createElement('span');
      status.className = 'queue-status';
      b.append(name, facts, status);
      b.addEventListener('click', function () { open(q.id); });
      li.appendChild(b);
      list.appendChild(li);
    });
    markQueue();
  }

  function markQueue() {
    document.querySelectorAll('#queue .queue-item').forEach(function (b) {
      var q = queue.find(function (x) { return x.id === b.dataset.sample; });
      var word = statusWord(q);
      var s = b.querySelector('.queue-status');
      s.textContent = word;
      s.className = 'queue-status ' + word.replace(' ', '-');
      b.classList.toggle('current', !!current && current.sample.id === q.id);
    });
  }

  function open(id) {
    say('');
    hideConflict();
    return fetch(api + '/' + encodeURIComponent(id), { headers: { Accept: 'application/json' } }).then(json).then(function (r) {
      if (!r.ok) { say(r.body.error, 'error'); return; }
      var sample = r.body.sample;
      current = { sample: sample, baseRevision: r.body.revision, saved: r.body.labels };
      items = itemsFrom(sample, r.body.labels);
      var draft = readDraft(id);
      if (draft) {
        items = draft.items;
        current.baseRevision = draft.baseRevision;
        say('Your unsaved edits of this frame are back (kept ' + new Date(draft.keptAt).toLocaleString() + ')' +
          (draft.baseRevision !== r.body.revision ? '; someone saved it since: saving shows both versions.' : '.'), 'ok');
      }
      selected = -1;
      drawing = false;
      undoStack = [];
      redoStack = [];
      svg.setAttribute('viewBox', '0 0 ' + sample.width + ' ' + sample.height);
      frameBox.style.aspectRatio = sample.width + ' / ' + sample.height;
      image.src = api + '/' + encodeURIComponent(id) + '/image';
      document.getElementById('frame-id').textContent = sample.id;
      document.getElementById('frame-facts').textContent = (sample.reason === 'Uncertain' ? 'uncertain ' + sample.uncertainty.toFixed(2) : 'every nth frame') +
        ' · ' + new Date(sample.capturedAtUtc).toISOString().slice(11, 19) + ' UTC' + (sample.treeIds && sample.treeIds.length ? ' · ' + sample.treeIds.join(', ') : '');
      var labels = r.body.labels;
      document.getElementById('frame-status').textContent = labels
        ? (labels.status === 'Skipped' ? 'skipped' : 'labelled') + ' by ' + labels.reviewer + ' (revision ' + labels.revision + ')'
        : 'not reviewed yet';
      history.replaceState(null, '', '#' + id);
      document.body.dataset.reviewFrame = id;
      render();
      markQueue();
    });
  }

  function position() { return current ? queue.findIndex(function (q) { return q.id === current.sample.id; }) : -1; }

  function step(delta) {
    var i = position() + delta;
    if (i >= 0 && i < queue.length) { open(queue[i].id); }
  }

  // The next frame nobody has reviewed, after this one (then from the top); none left: stay and say so.
  function openNextToReview() {
    var from = position();
    for (var k = 1; k <= queue.length; k++) {
      var q = queue[(from + k) % queue.length];
      if (!q.status && q.id !== current.sample.id) { return open(q.id); }
    }
    say('Every frame of this run is reviewed. Thank you!', 'ok');
    return Promise.resolve();
  }

  // ---- saving ----

  function save(status, overwrite) {
    if (!current) { return Promise.resolve(); }
    if (!maySave) { say('Only an agronomist account may save labels.', 'error'); return Promise.resolve(); }
    var id = current.sample.id;
    var body = { status: status, boxes: status === 'Skipped' ? [] : boxesToSave(), baseRevision: current.baseRevision, overwrite: !!overwrite };
    document.body.dataset.reviewState = 'saving';
    return fetch(api + '/' + encodeURIComponent(id) + '/labels', {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRF-Token': root.dataset.token },
      body: JSON.stringify(body),
    }).then(json).then(function (r) {
      document.body.dataset.reviewState = r.status === 200 ? 'saved' : 'refused';
      if (r.status === 409 && r.body.current) { conflictStatus = status; showConflict(r.body); return null; }
      if (!r.ok) { say(r.body.error, 'error'); return null; }
      localStorage.removeItem(draftKey(id));
      var q = queue.find(function (x) { return x.id === id; });
      q.status = r.body.labels.status;
      q.revision = r.body.labels.revision;
      q.reviewer = r.body.labels.reviewer;
      showProgress(r.body.progress);
      markQueue();
      var done = (status === 'Skipped' ? 'Skipped ' : 'Saved ') + id + ' (revision ' + r.body.labels.revision + ').';
      return openNextToReview().then(function () { if (!message.textContent) { say(done, 'ok'); } });
    }, function () {
      document.body.dataset.reviewState = 'refused';
      say('Not saved: the console did not answer. Your edits are kept in this browser; try again.', 'error');
    });
  }

  function describe(b) {
    return 'BBCH ' + stageShort(b.stage) + ' at ' + Math.round(b.x) + ',' + Math.round(b.y) + ' ' + Math.round(b.w) + '×' + Math.round(b.h) +
      (b.origin === 'Redrawn' ? ' (redrawn)' : '');
  }

  function summary(labels) {
    if (labels.status === 'Skipped') { return 'skipped the frame'; }
    var added = labels.boxes.filter(function (b) { return b.origin === 'Added'; }).length;
    var redrawnCount = labels.boxes.filter(function (b) { return b.origin === 'Redrawn'; }).length;
    var proposals = current.sample.proposals.length;
    return labels.boxes.length + ' boxes: ' + (proposals - labels.boxes.length + added) + ' of ' + proposals + ' proposals rejected, ' +
      redrawnCount + ' redrawn, ' + added + ' added';
  }

  // Only where the two versions differ: a frame has dozens of boxes and most are the same in both.
  function differences(mine, theirs) {
    var lines = [];
    var byProposal = function (labels) {
      var m = {};
      labels.boxes.forEach(function (b) { if (b.proposalIndex !== null && b.proposalIndex !== undefined) { m[b.proposalIndex] = b; } });
      return m;
    };
    var a = byProposal(mine);
    var b = byProposal(theirs);
    current.sample.proposals.forEach(function (_, i) {
      var x = a[i] ? describe(a[i]) : 'rejected';
      var y = b[i] ? describe(b[i]) : 'rejected';
      if (x !== y) { lines.push('proposal ' + (i + 1) + ': yours ' + x + ' · theirs ' + y); }
    });
    mine.boxes.filter(function (m) { return m.origin === 'Added'; }).forEach(function (m) { lines.push('yours added ' + describe(m)); });
    theirs.boxes.filter(function (m) { return m.origin === 'Added'; }).forEach(function (m) { lines.push('theirs added ' + describe(m)); });
    return lines;
  }

  function showConflict(body) {
    conflict = body.current;
    var mine = { status: conflictStatus, boxes: conflictStatus === 'Skipped' ? [] : boxesToSave() };
    document.getElementById('conflict-text').textContent = body.error;
    document.getElementById('conflict-mine').textContent = 'Yours (solid): ' + summary(mine) + '.';
    document.getElementById('conflict-theirs').textContent = conflict.reviewer + "'s (dotted, magenta): " + summary(conflict) + '.';
    var list = document.getElementById('conflict-differences');
    list.innerHTML = '';
    var lines = mine.status === conflict.status ? differences(mine, conflict) : [];
    (lines.length || mine.status !== conflict.status ? lines : ['no box differs: only the revision']).forEach(function (t) {
      var li = document.createElement('li');
      li.textContent = t;
      list.appendChild(li);
    });
    document.getElementById('frame-status').textContent = 'saved meanwhile by ' + conflict.reviewer + ' (revision ' + conflict.revision + ')';
    var panel = document.getElementById('conflict');
    panel.hidden = false;
    panel.scrollIntoView({ block: 'nearest' });
    say('');
    render();
  }

  function hideConflict() {
    conflict = null;
    document.getElementById('conflict').hidden = true;
  }

  document.getElementById('keep-mine').addEventListener('click', function () {
    hideConflict();
    save(conflictStatus, true);
  });
  document.getElementById('take-theirs').addEventListener('click', function () {
    var theirs = conflict;
    hideConflict();
    change(function () { items = itemsFrom(current.sample, theirs); });
    current.baseRevision = theirs.revision;
    localStorage.removeItem(draftKey(current.sample.id));
    markQueue();
    say('Theirs is shown (revision ' + theirs.revision + '); Undo brings yours back.', 'ok');
  });

  // ---- buttons and keys ----

  document.getElementById('accept').addEventListener('click', function () { setDecision('accepted'); });
  document.getElementById('reject').addEventListener('click', function () { setDecision('rejected'); });
  document.getElementById('draw').addEventListener('click', function () { drawing = !drawing; render(); });
  document.getElementById('undo').addEventListener('click', function () { restore(undoStack, redoStack); });
  document.getElementById('redo').addEventListener('click', function () { restore(redoStack, undoStack); });
  document.getElementById('skip').addEventListener('click', function () { save('Skipped'); });
  document.getElementById('save').addEventListener('click', function () { save('Labelled'); });
  document.getElementById('previous').addEventListener('click', function () { step(-1); });
  document.getElementById('next').addEventListener('click', function () { step(1); });

  document.addEventListener('keydown', function (e) {
    if (!current || e.altKey || e.metaKey) { return; }
    var t = e.target;
    if (t && (t.tagName === 'INPUT' || t.tagName === 'SELECT' || t.tagName === 'TEXTAREA')) { return; }
    var key = e.key;
    if (e.ctrlKey) {
      if (key.toLowerCase() === 'z') { restore(e.shiftKey ? redoStack : undoStack, e.shiftKey ? undoStack : redoStack); } else if (key.toLowerCase() === 'y') { restore(redoStack, undoStack); } else { return; }
    } else if (key === 'a' || key === 'A') { setDecision('accepted'); }
    else if (key === 'r' || key === 'R' || key === 'Delete' || key === 'Backspace') { setDecision('rejected'); }
    else if (key === 'n' || key === 'N') { drawing = !drawing; render(); }
    else if (key === 'z' || key === 'Z') { setZoom(zoom % 3 + 1); }
    else if (key === 's' || key === 'S') { save('Skipped'); }
    else if (key === 'Enter' || key === ' ') { save('Labelled'); }
    else if (key === 'ArrowLeft') { step(-1); }
    else if (key === 'ArrowRight') { step(1); }
    else if (key === 'Escape') { drawing = false; selected = -1; render(); }
    else if (key === 'Tab' && items.length && (t === document.body || frameBox.contains(t))) { selected = (selected + (e.shiftKey ? items.length - 1 : 1)) % items.length; render(); }
    else if (/^[0-9]$/.test(key) && stages.length === 10) { setStage(stages[(Number(key) + 9) % 10].stage); }
    else { return; }
    e.preventDefault();
  });

  // Busy frames have dozens of small boxes: ×2 and ×3 make them finger-sized; the selected box is scrolled into view.
  function setZoom(z) {
    zoom = z;
    frameBox.style.setProperty('--zoom', String(z));
    document.getElementById('zoom').firstChild.textContent = 'Zoom ×' + z + ' ';
    render();
    var picked = svg.querySelector('rect.box.selected');
    if (picked) { picked.scrollIntoView({ block: 'center', inline: 'center' }); }
  }

  document.getElementById('zoom').addEventListener('click', function () { setZoom(zoom % 3 + 1); });

  window.addEventListener('resize', render);
  // A button tapped or clicked gives the focus back, so Enter and Space save instead of pressing it again.
  root.addEventListener('pointerup', function (e) {
    var b = e.target.closest && e.target.closest('button');
    if (b) { b.blur(); }
  });

  function renderStages() {
    var picker = document.getElementById('stage-picker');
    stages.forEach(function (s, i) {
      var b = document.createElement('button');
      b.type = 'button';
      b.className = 'stage-choice';
      b.dataset.stage = s.stage;
      b.title = s.description + ' (key ' + ((i + 1) % 10) + ')';
      var head = document.createElement('span');
      head.className = 'stage-name';
      head.textContent = s.label + ' · ' + s.name;
      b.appendChild(head);
      if (s.references.length) {
        var crops = document.createElement('span');
        crops.className = 'stage-crops';
        s.references.forEach(function (url) {
          var img = document.createElement('img');
          img.src = url;
          img.alt = '';
          img.loading = 'lazy';
          crops.appendChild(img);
        });
        b.appendChild(crops);
      } else {
        var words = document.createElement('span');
        words.className = 'stage-description';
        words.textContent = s.description;
        b.appendChild(words);
      }
      b.addEventListener('click', function () { setStage(s.stage); });
      picker.appendChild(b);
    });
  }

  if (!maySave) {
    ['accept', 'reject', 'draw', 'skip', 'save'].forEach(function (id) { document.getElementById(id).hidden = true; });
  }

  Promise.all([
    fetch('/api/stages', { headers: { Accept: 'application/json' } }).then(json),
    loadQueue(),
  ]).then(function (results) {
    stages = results[0].ok ? results[0].body : [];
    renderStages();
    var wanted = decodeURIComponent(location.hash.slice(1));
    var first = queue.find(function (q) { return q.id === wanted; }) || queue.find(function (q) { return !q.status; }) || queue[0];
    return first ? open(first.id) : null;
  });
})();
