// The cab screen: live pipeline status over server-sent events (the console pushes it every second and each map update
// as soon as the map writer announces it), the live map of the run, and Start/Stop/plan upload with the PIN.
(function () {
  'use strict';

  var map = new TreeMap(document.getElementById('map'), { stages: [], window: [] });
  var runId = null;
  var loading = false;
  var pendingMap = null;
  var el = function (id) { return document.getElementById(id); };

  function text(id, value) { el(id).textContent = value; }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) { return ''; }
    var s = Math.floor(seconds), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return (h > 0 ? h + ':' + String(m).padStart(2, '0') : String(m)) + ':' + String(s % 60).padStart(2, '0');
  }

  function renderWarnings(warnings) {
    var list = el('warnings');
    list.textContent = '';
    warnings.forEach(function (w) {
      var li = document.createElement('li');
      li.className = 'warning ' + w.kind;
      var title = document.createElement('strong');
      title.textContent = w.title;
      var action = document.createElement('span');
      action.className = 'action';
      action.textContent = w.action;
      var detail = document.createElement('span');
      detail.className = 'detail';
      detail.textContent = w.detail;
      li.appendChild(title);
      li.appendChild(action);
      li.appendChild(detail);
      list.appendChild(li);
    });
  }

  function renderWorkers(workers) {
    var list = el('workers');
    list.textContent = '';
    workers.forEach(function (w) {
      var li = document.createElement('li');
      li.className = w.up ? (w.ready ? 'up' : 'not-ready') : 'down';
      li.textContent = w.worker + ' ' + (w.up ? (w.ready ? 'up' : 'not ready') : 'down');
      list.appendChild(li);
    });
  }

  function render(status) {
    var banner = el('broker-banner');
    if (!status.broker.configured || !status.broker.connected) {
      banner.hidden = false;
      banner.textContent = status.broker.configured
        ? 'Broker unreachable: ' + status.broker.state + '. Start and Stop wait for it.'
        : 'Run control is unavailable: this console has no broker. It shows the runs on this disk.';
    } else {
      banner.hidden = true;
    }
    var run = status.run;
    var state = run ? run.state : 'idle';
    var badge = el('run-state');
    badge.textContent = { idle: 'Idle', scanning: 'Scanning', interrupted: 'Interrupted', finishing: 'Finishing' }[state] || state;
    badge.className = 'state ' + state;
    text('run-elapsed', run ? duration(run.elapsedSeconds) : '');
    text('run-title', run ? (run.block || run.runId) + (run.variety ? ' · ' + run.variety : '') : 'No run is being scanned');
    // Counted: trees with blossom clusters so far, of the block's trees (the plan's, or those found so far).
    text('trees-counted', run && run.treesWithClusters !== null ? String(run.treesWithClusters) : '–');
    text('trees-of', run && run.trees !== null ? 'of ' + run.trees + ' trees counted' : 'trees counted');
    // An interrupted run (capture gone since a power cut or restart) is still active in the run ledger: it can be stopped.
    var stoppable = state === 'scanning' || state === 'interrupted';
    el('start-form').hidden = stoppable;
    el('stop-form').hidden = !stoppable;
    el('start').disabled = !status.broker.configured;
    el('stop').disabled = !status.broker.configured;
    el('workers').hidden = !status.broker.configured;

    var g = status.gnss;
    text('speed', g && g.speedKmh !== null ? g.speedKmh.toFixed(1) + ' km/h' : '–');
    // Lost is fusion's word, the same as the "GNSS lost" warning's: the tile never says RTK fixed beside it.
    text('gnss', g ? (g.lost ? 'lost' : g.solution) : status.broker.configured ? 'no fix' : '–');
    text('fix-age', g ? (g.lost ? 'last ' + g.solution + ', ' : 'fix ') + g.fixAgeSeconds.toFixed(1) + ' s ago' : '');
    el('gnss').className = 'value ' + (g && !g.lost && g.quality === 'RtkFixed' ? 'good' : status.broker.configured ? 'bad' : '');
    text('fps', status.cameras.length === 0 ? '–' : status.cameras.map(function (c) { return c.camera + ' ' + (c.framesPerSecond === null ? '…' : c.framesPerSecond.toFixed(1)); }).join(' · '));
    text('backlog', (status.backlog === null ? '–' : status.backlog) + ' · ' + status.shed);
    text('disk', status.disk.freeMiB === null ? '–' : (status.disk.freeMiB / 1024).toFixed(1) + ' GiB');
    el('disk').className = 'value ' + (status.disk.low ? 'bad' : '');
    text('dead', String(status.deadLettered));
    renderWarnings(status.warnings);
    renderWorkers(status.workers);
    map.setTractor(g);

    var id = run ? run.runId : null;
    if (id !== runId) {
      runId = id;
      map.fitted = false;
      revision = null;
      // A run's trees once the map writer has announced a map: capture films (and reports the run) before the map
      // writer has created the run's store, whose trees would be refused until then. The first map event loads them.
      if (id && run.mapUpdatedAtUtc) { loadTrees(null); } else { map.setTrees({ type: 'FeatureCollection', features: [] }); }
    }
  }

  // One load at a time; an update that arrives meanwhile is loaded right after. After the first load only the trees
  // changed since the revision the page has travel (?since=).
  var revision = null;
  function loadTrees(update) {
    if (!runId) { return; }
    if (loading) { pendingMap = update || pendingMap || {}; return; }
    loading = true;
    var id = runId;
    fetch('/api/runs/' + encodeURIComponent(id) + '/trees' + (revision ? '?since=' + encodeURIComponent(revision) : ''), { headers: { Accept: 'application/geo+json' } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (geojson) {
        if (geojson && id === runId) {
          if (geojson.since) { map.mergeTrees(geojson); } else { map.setTrees(geojson); }
          revision = geojson.revision;
          if (update && update.updatedAtUtc) {
            // When the map writer stored it and when this page showed it (the console bench reads both).
            document.body.dataset.mapUpdatedAt = update.updatedAtUtc;
            document.body.dataset.mapShownAt = new Date().toISOString();
          }
        }
      })
      .catch(function () { /* the next update tries again */ })
      .then(function () {
        loading = false;
        if (pendingMap) { var next = pendingMap; pendingMap = null; loadTrees(next.updatedAtUtc ? next : null); }
      });
  }

  function connect() {
    var events = new EventSource('/api/status/stream');
    events.addEventListener('status', function (e) { render(JSON.parse(e.data)); });
    events.addEventListener('map', function (e) {
      var update = JSON.parse(e.data);
      if (update.runId === runId) { loadTrees(update); }
    });
    events.onerror = function () {
      var banner = el('broker-banner');
      banner.hidden = false;
      banner.textContent = 'Lost the connection to the console; reconnecting…';
    };
  }

  function submit(form, done) {
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      var message = el('control-message');
      message.className = 'message';
      message.textContent = 'Sending…';
      var button = form.querySelector('button[type=submit]');
      button.disabled = true;
      fetch(form.action, { method: 'POST', body: new FormData(form), headers: { Accept: 'application/json' } })
        .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
        .then(function (result) {
          message.className = 'message ' + (result.ok ? 'ok' : 'error');
          message.textContent = result.ok ? done(result.body) : result.body.error;
        })
        .catch(function () { message.className = 'message error'; message.textContent = 'The console did not answer; try again.'; })
        .then(function () {
          button.disabled = false;
          form.querySelectorAll('input[name=pin]').forEach(function (i) { i.value = ''; });
        });
    });
  }

  submit(el('start-form'), function (body) {
    return 'Started ' + (body.block || '') + ': run ' + body.runId + (body.notes.length ? '. ' + body.notes.join(' ') : '');
  });
  submit(el('stop-form'), function (body) {
    return 'Stop requested for run ' + body.runId + '; the final map follows.' + (body.notes.length ? ' ' + body.notes.join(' ') : '');
  });
  submit(el('plan-form'), function (body) {
    var select = el('block');
    var option = Array.prototype.find.call(select.options, function (o) { return o.value === body.key; }) || document.createElement('option');
    option.value = body.key;
    option.textContent = body.block + ' (' + body.rows + ' rows, ' + body.trees + ' trees)';
    option.dataset.variety = body.variety || '';
    option.disabled = false;
    if (!option.parentNode) { select.appendChild(option); }
    Array.prototype.filter.call(select.options, function (o) { return o.value === ''; }).forEach(function (o) { o.remove(); });
    select.value = body.key;
    return 'Plan of ' + body.block + ' stored: ' + body.rows + ' rows, ' + body.trees + ' trees.';
  });

  connect();
})();
