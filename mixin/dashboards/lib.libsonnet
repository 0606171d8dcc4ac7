// Panel builders for botwatch's dashboards (plain jsonnet, no grafonnet).
//
// Conventions every dashboard follows (tests/e2e/static_checks.py dashboards):
// - `__inputs` declares DS_PROMETHEUS, and a datasource template variable of the
//   same name exists, so the JSON works both through the import UI and through
//   file provisioning. Every panel and target uses {"uid": "${DS_PROMETHEUS}"}.
// - `job` and `instance` template variables; every query filters on both.
// - Stable uids (botwatch-*), so links and provisioning survive re-imports.
// - Every panel has a description; a panel an alert watches links its runbook.
local ds = { type: 'prometheus', uid: '${DS_PROMETHEUS}' };

{
  ds:: ds,

  // Label matchers for the selected job and instance, plus `extra`.
  sel(extra=''):: '{job=~"$job", instance=~"$instance"' + (if extra != '' then ', ' + extra else '') + '}',

  target(expr, legend='', instant=false, interval=null)::
    {
      datasource: ds,
      expr: expr,
      legendFormat: if legend == '' then '__auto' else legend,
      range: !instant,
      instant: instant,
      editorMode: 'code',
    } + (if interval != null then { interval: interval } else {}),

  // `alert`: the name of the alert this panel shows the evidence for; the panel
  // then links to that alert's runbook section.
  panel(kind, title, targets, w=8, h=8, unit=null, description, options={}, defaults={}, overrides=[], alert=null, extra={})::
    {
      w:: w,
      h:: h,
      alert:: alert,
      type: kind,
      title: title,
      datasource: ds,
      description: description,
      targets: [
        targets[i] { refId: if i < 26 then std.char(65 + i) else 'A' + std.char(65 + i - 26) }
        for i in std.range(0, std.length(targets) - 1)
      ],
      fieldConfig: {
        defaults: { color: { mode: 'palette-classic' } } + (if unit != null then { unit: unit } else {}) + defaults,
        overrides: overrides,
      },
      options: options,
    } + extra,

  timeseries(title, targets, description, w=8, h=8, unit=null, defaults={}, overrides=[], alert=null)::
    self.panel('timeseries', title, targets, w, h, unit, description,
               options={
                 legend: { displayMode: 'list', placement: 'bottom', showLegend: true },
                 tooltip: { mode: 'multi', sort: 'desc' },
               },
               defaults=defaults, overrides=overrides, alert=alert),

  steps(list):: { mode: 'absolute', steps: [{ color: s[0], value: s[1] } for s in list] },

  stat(title, targets, description, w=8, h=8, unit=null, thresholds=null, mappings=null, colorMode='background',
       defaults={}, textMode='value_and_name', alert=null)::
    self.panel('stat', title, targets, w, h, unit, description,
               options={
                 reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
                 colorMode: colorMode,
                 graphMode: 'none',
                 justifyMode: 'auto',
                 orientation: 'auto',
                 textMode: textMode,
                 wideLayout: true,
               },
               defaults=defaults
                        + (if thresholds != null then { thresholds: $.steps(thresholds), color: { mode: 'thresholds' } } else {})
                        + (if mappings != null then { mappings: mappings } else {}),
               alert=alert),

  updown(title, targets, description, w=8, h=8, alert=null)::
    self.stat(title, targets, description, w=w, h=h,
              thresholds=[['red', null], ['green', 1]],
              mappings=[{ type: 'value', options: {
                '0': { text: 'DOWN', color: 'red', index: 0 },
                '1': { text: 'UP', color: 'green', index: 1 },
              } }],
              alert=alert),

  bargauge(title, targets, description, displayMode='gradient', defaults={})::
    self.panel('bargauge', title, targets, 8, 9, 'short', description,
               options={
                 orientation: 'horizontal',
                 displayMode: displayMode,
                 showUnfilled: true,
                 reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
                 valueMode: 'color',
                 namePlacement: 'auto',
                 sizing: 'auto',
                 minVizHeight: 16,
                 minVizWidth: 8,
                 maxVizHeight: 300,
               },
               defaults=defaults),

  row(title):: { type: 'row', title: title, isRow:: true },

  // Places panels left to right on Grafana's 24-column grid, a row header
  // starting a new line, and numbers them in order.
  layout(panels)::
    local step(st, p) =
      if std.objectHasAll(p, 'isRow') then
        local y = if st.x > 0 then st.y + st.rowH else st.y;
        st {
          x: 0,
          y: y + 1,
          rowH: 0,
          id: st.id + 1,
          out+: [p { id: st.id, collapsed: false, panels: [], gridPos: { x: 0, y: y, w: 24, h: 1 } }],
        }
      else
        local wrap = st.x + p.w > 24;
        local x = if wrap then 0 else st.x;
        local y = if wrap then st.y + st.rowH else st.y;
        local rowH = if wrap then 0 else st.rowH;
        st {
          x: x + p.w,
          y: y,
          rowH: std.max(rowH, p.h),
          id: st.id + 1,
          out+: [p { id: st.id, gridPos: { x: x, y: y, w: p.w, h: p.h } }],
        };
    std.foldl(step, panels, { x: 0, y: 0, rowH: 0, id: 1, out: [] }).out,

  variables(jobSelector):: {
    local queryVar(name, label, query) = {
      type: 'query',
      name: name,
      label: label,
      datasource: ds,
      // The plain-string form: Grafana 10 and 11 both read it (and migrate it).
      query: query,
      definition: query,
      refresh: 2,
      includeAll: true,
      multi: true,
      allValue: '.*',
      current: { selected: true, text: ['All'], value: ['$__all'] },
      sort: 1,
      options: [],
      hide: 0,
    },
    list: [
      {
        type: 'datasource',
        name: 'DS_PROMETHEUS',
        label: 'Prometheus',
        query: 'prometheus',
        current: {},
        hide: 0,
        includeAll: false,
        multi: false,
        options: [],
        refresh: 1,
        regex: '',
      },
      queryVar('job', 'Job', 'label_values(botwatch_build_info{%s}, job)' % jobSelector),
      queryVar('instance', 'Instance', 'label_values(botwatch_build_info{%s, job=~"$job"}, instance)' % jobSelector),
    ],
  },

  // A dashboard of `panels` (built above, in reading order). Panels that name an
  // alert link to its section of the runbook at `config.runbookURL`.
  dashboard(config, uid, title, description, panels)::
    local placed = [
      if p.type != 'row' && p.alert != null then
        p { links: [{ title: 'Runbook: ' + p.alert, url: config.runbookURL + '#' + std.asciiLower(p.alert), targetBlank: true }] }
      else p
      for p in $.layout(panels)
    ];
    local kinds = std.set([p.type for p in placed if p.type != 'row']);
    {
      __inputs: [{
        name: 'DS_PROMETHEUS',
        label: 'Prometheus',
        description: 'Prometheus that scrapes botwatch',
        type: 'datasource',
        pluginId: 'prometheus',
        pluginName: 'Prometheus',
      }],
      __elements: {},
      __requires: [
        { type: 'grafana', id: 'grafana', name: 'Grafana', version: '10.0.0' },
        { type: 'datasource', id: 'prometheus', name: 'Prometheus', version: '1.0.0' },
      ] + [{ type: 'panel', id: k, name: k, version: '' } for k in kinds],
      uid: uid,
      title: title,
      description: description,
      tags: ['botwatch'],
      editable: true,
      graphTooltip: 1,
      id: null,
      links: [{
        type: 'dashboards',
        tags: ['botwatch'],
        asDropdown: true,
        title: 'botwatch',
        includeVars: true,
        keepTime: true,
        icon: 'external link',
        targetBlank: false,
        tooltip: '',
        url: '',
      }],
      panels: placed,
      refresh: '30s',
      schemaVersion: 38,
      templating: $.variables(config.botwatchSelector),
      time: { from: 'now-6h', to: 'now' },
      timepicker: {},
      timezone: 'browser',
      version: 1,
      weekStart: '',
      annotations: { list: [{
        builtIn: 1,
        datasource: { type: 'grafana', uid: '-- Grafana --' },
        enable: true,
        hide: true,
        iconColor: 'rgba(0, 211, 255, 1)',
        name: 'Annotations & Alerts',
        type: 'dashboard',
      }] },
    },
}
