// A run's map: layers with legends, a tap on a tree shows its counts, a prescription preview with another variety or
// target (the store is not changed), downloads that follow the preview, and live reloads while the run is scanned.
(function () {
  'use strict';

  var root = document.getElementById('run');
  if (!root) { return; }
  var runId = root.dataset.run;
  var stages = root.dataset.stages.split(',');
  var windowStages = root.dataset.window ? root.dataset.window.split(',') : [];
  // The calibrated counts are the exports' own (clusters_calibrated and its interval); the hand counts come with the page.
  var calibrated = root.dataset.calibrated === 'true';
  var interval = root.dataset.interval;
  var handCounts = {};
  JSON.parse(root.dataset.handCounts || '[]').forEach(function (h) { handCounts[h.treeId] = h; });
  var map = new TreeMap(document.getElementById('map'), { stages: stages, window: windowStages, calibrated: calibrated });
  var legend = document.getElementById('legend');
  var query = '';
  var selectedId = null;

  // A live update asks only for the trees changed since the revision this page has (of the same preview).
  var revision = null;
  function load(changesOnly) {
    var params = new URLSearchParams(query);
    if (changesOnly && revision) { params.set('since', revision); }
    var search = params.toString() ? '?' + params.toString() : '';
    return fetch('/api/runs/' + encodeURIComponent(runId) + '/trees' + search)
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (result) {
        if (!result.ok) { note(result.body.error, true); return; }
        if (result.body.since) { map.mergeTrees(result.body); } else { map.setTrees(result.body); }
        revision = result.body.revision;
        map.renderLegend(legend);
        if (selectedId) {
          var f = map.source.getFeatureById(selectedId);
          if (f) { map.selected = f; showTree(f.getProperties()); }
        }
        document.body.dataset.treesLoaded = String(map.source.getFeatures().length);
      });
  }

  function note(text, error) {
    var p = document.getElementById('preview-note');
    p.textContent = text;
    p.className = 'note' + (error ? ' error' : '');
  }

  function row(table, label, value) {
    var tr = document.createElement('tr');
    var th = document.createElement('th');
    th.textContent = label;
    var td = document.createElement('td');
    td.textContent = value;
    tr.appendChild(th);
    tr.appendChild(td);
    table.appendChild(tr);
  }

  function number(v, digits, unit) { return v === null || v === undefined ? '–' : v.toFixed(digits) + (unit ? ' ' + unit : ''); }

  function showTree(p) {
    var detail = document.getElementById('tree-detail');
    document.getElementById('tree-hint').hidden = !!p;
    detail.hidden = !p;
    detail.textContent = '';
    if (!p) { return; }
    selectedId = p.tree_id;
    var h = document.createElement('h3');
    h.textContent = p.tree_id + (p.row_id ? ' · row ' + p.row_id : '');
    detail.appendChild(h);
    var table = document.createElement('table');
    table.className = 'tree-facts';
    row(table, 'Clusters', p.clusters_calibrated === null || p.clusters_calibrated === undefined
      ? String(p.clusters_total)
      : p.clusters_total + ' scanned → ' + number(p.clusters_calibrated, 0) + ' calibrated (' + number(p.clusters_ci_low, 0) + '–' + number(p.clusters_ci_high, 0) + ', ' + interval + ' %)');
    var hand = handCounts[p.tree_id];
    if (hand) { row(table, 'Hand count', hand.clusters + ' (scanned ' + hand.clustersScanned + ' when counted)'); }
    row(table, 'Low-confidence clusters', String(p.clusters_low_confidence));
    row(table, 'Frames seen', String(p.frames_seen));
    row(table, 'Confidence', number(p.confidence * 100, 0, '%'));
    row(table, 'Density', number(p.density_per_m, 1, 'clusters/m'));
    row(table, 'Dose', number(p.dose_pct, 0, '%') + (calibrated && p.dose_pct !== null && p.dose_pct !== undefined ? ' (from the calibrated count)' : ''));
    row(table, 'Rate', number(p.rate_l_ha, 0, 'L/ha'));
    row(table, 'Zone', p.zone_class || '–');
    var bloom = TreeMap.bloomOf(p, stages, windowStages);
    row(table, 'In thinning window', bloom.share === null ? '–' : Math.round(bloom.share * 100) + '%');
    detail.appendChild(table);
    var stagesTable = document.createElement('table');
    stagesTable.className = 'stage-counts';
    var max = Math.max.apply(null, stages.map(function (s) { return p[s] || 0; }).concat([1]));
    stages.forEach(function (s) {
      var tr = document.createElement('tr');
      tr.dataset.stage = s;
      var th = document.createElement('th');
      th.textContent = TreeMap.stageName(s) + (windowStages.indexOf(s) >= 0 ? ' ✓' : '');
      var td = document.createElement('td');
      var bar = document.createElement('span');
      bar.className = 'bar';
      bar.style.width = Math.round((p[s] || 0) / max * 100) + '%';
      td.appendChild(bar);
      td.appendChild(document.createTextNode(' ' + (p[s] || 0)));
      tr.appendChild(th);
      tr.appendChild(td);
      stagesTable.appendChild(tr);
    });
    var caption = document.createElement('caption');
    caption.textContent = 'Clusters by stage (✓ in the thinning window)';
    stagesTable.appendChild(caption);
    detail.appendChild(stagesTable);
  }

  map.onTreeTap(showTree);
  document.querySelectorAll('#layers input[name=layer]').forEach(function (input) {
    input.addEventListener('change', function () {
      map.setLayer(input.value);
      map.renderLegend(legend);
      document.body.dataset.layer = input.value;
    });
  });

  var form = document.getElementById('preview-form');
  function setDownloads() {
    document.querySelectorAll('#downloads a').forEach(function (a) {
      a.href = '/api/runs/' + encodeURIComponent(runId) + '/exports/' + a.dataset.format + query;
    });
  }
  form.addEventListener('submit', function (e) {
    e.preventDefault();
    var profile = document.getElementById('preview-profile').value;
    var target = document.getElementById('preview-target').value;
    var params = new URLSearchParams();
    if (profile) { params.set('profile', profile); }
    if (target) { params.set('target', target); }
    query = params.toString() ? '?' + params.toString() : '';
    load().then(function () {
      setDownloads();
      if (query) {
        note('Preview: ' + (profile || 'the run\'s own profile') + (target ? ', target ' + target + ' clusters per tree' : '') + '. The run\'s store is unchanged; the downloads below use this preview.', false);
      } else {
        note('', false);
      }
    });
  });
  form.addEventListener('reset', function () {
    query = '';
    setTimeout(function () { load().then(function () { setDownloads(); note('', false); }); }, 0);
  });

  if (root.dataset.live === 'true') {
    var events = new EventSource('/api/status/stream');
    events.addEventListener('map', function (e) {
      var update = JSON.parse(e.data);
      if (update.runId === runId) { load(true); }
    });
  }
  load();
})();
