// The console's tree map on OpenLayers (served by the console, no CDN): trees as points coloured by the chosen layer,
// a legend per layer, tree labels where they fit, the tractor's position, and a tap on a tree. No internet tiles: a
// plain background, or the configured XYZ background (Console:BackgroundTiles).
(function () {
  'use strict';

  var STAGE_COLORS = {
    bbch53: '#3f6212', bbch54: '#4d7c0f', bbch56: '#65a30d', bbch57: '#db2777', bbch59: '#f472b6',
    bbch61: '#fde047', bbch65: '#ffffff', bbch67: '#f59e0b', bbch69: '#92400e', bbch71: '#44403c'
  };
  var SEQUENTIAL = ['#fff7bc', '#fec44f', '#fe9929', '#d95f0e', '#993404'];
  var DOSE = ['#f7fbff', '#c6dbef', '#6baed6', '#2171b5', '#08306b'];

  function stageName(label) { return 'BBCH ' + label.slice(4); }

  function bloomOf(p, stages, window) {
    var best = null, bestCount = -1, total = 0, inside = 0;
    stages.forEach(function (s) {
      var n = p[s] || 0;
      total += n;
      if (window.indexOf(s) >= 0) { inside += n; }
      if (n > bestCount) { best = s; bestCount = n; }
    });
    return { dominant: total > 0 ? best : null, share: total > 0 ? inside / total : null };
  }

  var LAYERS = {
    clusters: { title: 'Clusters per tree', unit: 'clusters', colors: SEQUENTIAL, value: function (p) { return p.clusters_total; }, digits: 0 },
    density: { title: 'Blossom density', unit: 'clusters per metre of row', colors: SEQUENTIAL, value: function (p) { return p.density_per_m; }, digits: 1 },
    dose: { title: 'Thinning dose', unit: 'L/ha', colors: DOSE, value: function (p) { return p.rate_l_ha; }, digits: 0 },
    bloom: { title: 'Bloom stage', categorical: true }
  };

  function TreeMap(element, options) {
    options = options || {};
    this.stages = options.stages || [];
    this.window = options.window || [];
    this.calibrated = !!options.calibrated;
    this.layer = 'clusters';
    this.range = null;
    this.source = new ol.source.Vector();
    this.tractorSource = new ol.source.Vector();
    var self = this;
    this.treeLayer = new ol.layer.Vector({ source: this.source, style: function (f, r) { return self.style(f, r); } });
    var layers = [];
    var tiles = document.body.dataset.tiles;
    if (tiles) { layers.push(new ol.layer.Tile({ source: new ol.source.XYZ({ url: tiles, maxZoom: 22 }) })); }
    layers.push(this.treeLayer);
    layers.push(new ol.layer.Vector({ source: this.tractorSource, style: tractorStyle }));
    this.map = new ol.Map({
      target: element,
      layers: layers,
      view: new ol.View({ center: ol.proj.fromLonLat([5.7, 51.93]), zoom: 17, maxZoom: 23 }),
      controls: (ol.control.defaults.defaults || ol.control.defaults)({ attribution: false, rotate: false })
    });
    this.fitted = false;
    // For scripts and browser tests: the map and the pixel of a tree.
    window.consoleMap = this;
  }

  function tractorStyle(feature) {
    var course = feature.get('course');
    return new ol.style.Style({
      image: new ol.style.RegularShape({
        points: 3, radius: 14, rotation: (course || 0) * Math.PI / 180,
        fill: new ol.style.Fill({ color: '#1d4ed8' }), stroke: new ol.style.Stroke({ color: '#ffffff', width: 3 })
      })
    });
  }

  function readTrees(geojson) {
    var features = new ol.format.GeoJSON().readFeatures(geojson, { featureProjection: 'EPSG:3857' });
    features.forEach(function (f) { f.setId(f.get('tree_id')); });
    return features;
  }

  TreeMap.prototype.setTrees = function (geojson) {
    var features = readTrees(geojson);
    this.source.clear(true);
    this.source.addFeatures(features);
    return this.treesChanged(true);
  };

  /// Only the trees that changed (a response with "since"): each replaces the tree of its id, new trees are added.
  TreeMap.prototype.mergeTrees = function (geojson) {
    var source = this.source, added = [];
    readTrees(geojson).forEach(function (f) {
      var known = source.getFeatureById(f.getId());
      if (known) { known.setProperties(f.getProperties(), true); } else { added.push(f); }
    });
    if (added.length > 0) { source.addFeatures(added); }
    return this.treesChanged(added.length > 0);
  };

  TreeMap.prototype.treesChanged = function (placesChanged) {
    var features = this.source.getFeatures();
    if (placesChanged) { this.spacing = typicalSpacing(features); }
    this.updateRange();
    if (!this.fitted && features.length > 0) {
      this.map.getView().fit(this.source.getExtent(), { padding: [40, 40, 40, 40], maxZoom: 23 });
      this.fitted = true;
    }
    this.treeLayer.changed();
    return features.length;
  };

  /// The median distance from a tree to its nearest neighbour (map units), which sizes the circles and decides where
  /// labels fit; from up to 200 trees spread over the block (each against all), not every pair of 3,000.
  function typicalSpacing(features) {
    var points = features.map(function (f) { return f.getGeometry().getCoordinates(); });
    if (points.length < 2) { return null; }
    var step = Math.max(1, Math.floor(points.length / 200));
    var nearest = [];
    for (var i = 0; i < points.length; i += step) {
      var p = points[i], best = Infinity;
      for (var j = 0; j < points.length; j++) {
        if (i !== j) { best = Math.min(best, Math.hypot(p[0] - points[j][0], p[1] - points[j][1])); }
      }
      nearest.push(best);
    }
    nearest.sort(function (a, b) { return a - b; });
    return nearest[Math.floor(nearest.length / 2)];
  }

  TreeMap.prototype.setLayer = function (name) {
    this.layer = name;
    this.updateRange();
    this.treeLayer.changed();
  };

  TreeMap.prototype.updateRange = function () {
    var def = LAYERS[this.layer];
    if (def.categorical) { this.range = null; return; }
    var values = this.source.getFeatures().map(function (f) { return def.value(f.getProperties()); }).filter(function (v) { return v !== null && v !== undefined; });
    this.range = values.length === 0 ? null : { min: Math.min.apply(null, values), max: Math.max.apply(null, values) };
  };

  TreeMap.prototype.colorOf = function (p) {
    var def = LAYERS[this.layer];
    if (def.categorical) {
      var bloom = bloomOf(p, this.stages, this.window);
      return bloom.dominant ? STAGE_COLORS[bloom.dominant] : '#d4d4d4';
    }
    var v = def.value(p);
    // Grey until a tree has clusters: the live map fills with colour as trees are counted.
    if (v === null || v === undefined || !this.range || (this.layer === 'clusters' && v === 0)) { return '#d4d4d4'; }
    var span = this.range.max - this.range.min;
    var i = span <= 0 ? 0 : Math.min(def.colors.length - 1, Math.floor((v - this.range.min) / span * def.colors.length));
    return def.colors[i];
  };

  TreeMap.prototype.labelOf = function (p) {
    var def = LAYERS[this.layer];
    if (def.categorical) {
      var bloom = bloomOf(p, this.stages, this.window);
      return bloom.dominant ? bloom.dominant.slice(4) + (bloom.share === null ? '' : ' · ' + Math.round(bloom.share * 100) + '%') : '';
    }
    var v = def.value(p);
    return v === null || v === undefined ? '' : v.toFixed(def.digits);
  };

  TreeMap.prototype.style = function (feature, resolution) {
    var p = feature.getProperties();
    var selected = feature === this.selected;
    // Circles fill a bit under half the gap to the next tree; labels only where they fit beside it.
    var gap = this.spacing ? this.spacing / resolution : 40;
    var radius = Math.max(5, Math.min(14, Math.round(gap * 0.38)));
    var text = gap >= 46 ? this.labelOf(p) : '';
    var color = this.colorOf(p);
    // Thousands of trees share a handful of looks: one style object per look, not per tree and frame.
    var key = color + '|' + radius + '|' + selected + '|' + text;
    this.styles = this.styles || {};
    if (this.styles[key]) { return this.styles[key]; }
    return (this.styles[key] = new ol.style.Style({
      image: new ol.style.Circle({
        radius: selected ? radius + 3 : radius,
        fill: new ol.style.Fill({ color: color }),
        stroke: new ol.style.Stroke({ color: selected ? '#1d4ed8' : '#111111', width: selected ? 4 : 1.5 })
      }),
      text: text ? new ol.style.Text({
        text: text, offsetX: radius + 4, textAlign: 'left', font: 'bold 14px system-ui, sans-serif',
        fill: new ol.style.Fill({ color: '#111111' }), stroke: new ol.style.Stroke({ color: '#ffffff', width: 4 })
      }) : undefined
    }));
  };

  TreeMap.prototype.onTreeTap = function (callback) {
    var self = this;
    this.map.on('singleclick', function (e) {
      var hit = null;
      self.map.forEachFeatureAtPixel(e.pixel, function (f) { if (f.get('tree_id')) { hit = f; return true; } return false; }, { hitTolerance: 10, layerFilter: function (l) { return l === self.treeLayer; } });
      self.selected = hit;
      self.treeLayer.changed();
      callback(hit ? hit.getProperties() : null);
    });
  };

  /// The pixel a tree is drawn at (CSS pixels from the map's top left), null when unknown.
  TreeMap.prototype.pixelOf = function (treeId) {
    var f = this.source.getFeatureById(treeId);
    return f ? this.map.getPixelFromCoordinate(f.getGeometry().getCoordinates()) : null;
  };

  TreeMap.prototype.setTractor = function (gnss) {
    this.tractorSource.clear(true);
    if (gnss) {
      var f = new ol.Feature(new ol.geom.Point(ol.proj.fromLonLat([gnss.longitude, gnss.latitude])));
      f.set('course', gnss.courseDeg);
      this.tractorSource.addFeature(f);
    }
  };

  TreeMap.prototype.renderLegend = function (element) {
    var def = LAYERS[this.layer];
    element.textContent = '';
    var title = document.createElement('div');
    title.className = 'legend-title';
    element.appendChild(title);
    var list = document.createElement('ul');
    element.appendChild(list);
    function item(color, text) {
      var li = document.createElement('li');
      var sw = document.createElement('span');
      sw.className = 'swatch';
      sw.style.background = color;
      li.appendChild(sw);
      li.appendChild(document.createTextNode(text));
      list.appendChild(li);
    }
    if (def.categorical) {
      var win = this.window.length ? stageName(this.window[0]) + '–' + this.window[this.window.length - 1].slice(4) : 'none';
      title.textContent = 'Dominant bloom stage (label: stage · share of clusters in the thinning window, ' + win + ')';
      var present = {};
      var self = this;
      this.source.getFeatures().forEach(function (f) { var b = bloomOf(f.getProperties(), self.stages, self.window); if (b.dominant) { present[b.dominant] = true; } });
      this.stages.forEach(function (s) { if (present[s]) { item(STAGE_COLORS[s], stageName(s) + (self.window.indexOf(s) >= 0 ? ' (in window)' : '')); } });
      item('#d4d4d4', 'no clusters');
      return;
    }
    title.textContent = def.title + ' (' + def.unit + ')' + (this.layer === 'dose' && this.calibrated ? ', from calibrated counts' : '');
    if (this.layer === 'clusters') { item('#d4d4d4', 'none counted'); }
    if (!this.range) { item('#d4d4d4', 'no values'); return; }
    var n = def.colors.length, min = this.range.min, span = this.range.max - this.range.min;
    if (span <= 0) { item(def.colors[0], min.toFixed(def.digits) + ' ' + def.unit + ' (every tree)'); return; }
    for (var i = 0; i < n; i++) {
      var lo = min + span * i / n, hi = min + span * (i + 1) / n;
      item(def.colors[i], lo.toFixed(def.digits) + '–' + hi.toFixed(def.digits) + ' ' + def.unit);
    }
  };

  TreeMap.bloomOf = bloomOf;
  TreeMap.stageName = stageName;
  window.TreeMap = TreeMap;
})();
