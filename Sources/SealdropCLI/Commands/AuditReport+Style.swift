/// The report's stylesheet: a document on screen (at most 1180 px wide,
/// no horizontal scrolling at 1280 px), A4 landscape in print. Columns have
/// fixed shares of the width and words never break inside (identifiers are
/// shortened instead), so nothing reads "sen der".
extension AuditDocument {
    static let style = """
        @page { size: A4 landscape; margin: 12mm 12mm 14mm; }
        * { box-sizing: border-box; }
        html { background: #f4f3ef; }
        body { font: 14px/1.45 "DejaVu Sans", "Liberation Sans", Helvetica, Arial, sans-serif; color: #1d1d1b;
          max-width: 1180px; margin: 24px auto; padding: 28px 36px; background: #fff; box-shadow: 0 1px 4px rgba(0,0,0,.12); }
        header { border-bottom: 2px solid #1d1d1b; padding-bottom: 10px; margin-bottom: 18px; }
        .kicker { margin: 0; font-size: 12px; letter-spacing: .08em; text-transform: uppercase; color: #666; }
        h1 { margin: 2px 0 4px; font-size: 26px; }
        h2 { font-size: 17px; margin: 26px 0 8px; }
        .meta, .note { color: #555; margin: 4px 0 10px; }
        .note { font-size: 12.5px; }
        .verdict { border-left: 6px solid; padding: 10px 16px; margin: 16px 0; }
        .verdict h2 { margin: 0 0 6px; }
        .verdict p { margin: 0; }
        .verdict.ok { border-color: #2e7d32; background: #edf6ee; }
        .verdict.bad { border-color: #b71c1c; background: #fbecec; }
        .verdict.bad h2 { color: #b71c1c; }
        .problems { margin: 8px 0 0; padding-left: 22px; }
        .summary dl, .glossary dl { display: grid; grid-template-columns: 190px 1fr; gap: 5px 16px; margin: 0; }
        .summary dt, .glossary dt { font-weight: bold; }
        .summary dd, .glossary dd { margin: 0; }
        table { width: 100%; border-collapse: collapse; table-layout: fixed; font-size: 12.5px; }
        th, td { text-align: left; vertical-align: top; padding: 5px 6px; overflow-wrap: break-word; word-break: normal; hyphens: manual; }
        thead th { font-size: 11.5px; color: #444; border-bottom: 2px solid #1d1d1b; background: #f4f3ef; }
        td.num, th.num { text-align: right; }
        tbody.transfer > tr:first-child td { border-top: 1px solid #cfcfcb; }
        tbody.attention { background: #fdf1e6; }
        col.c-id { width: 8%; } col.c-who { width: 13%; } col.c-what { width: 18%; } col.c-size { width: 7%; }
        col.c-time { width: 8.5%; } col.c-rest { width: 8%; } col.c-outcome { width: 9.5%; } col.c-ack { width: 10%; }
        col.g-what { width: 17%; } col.g-why { width: 33%; } col.g-count { width: 7%; } col.g-who { width: 17%; }
        col.g-when { width: 14%; } col.g-entries { width: 12%; }
        table.logins { width: 70%; }
        code { font-family: "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 11.5px; }
        .d, .t { white-space: nowrap; }
        .t, .muted { color: #666; }
        .arrow { color: #888; }
        .good { color: #2e7d32; font-weight: bold; }
        .badtext { color: #b71c1c; font-weight: bold; }
        tr.more td { padding-top: 0; }
        details summary { cursor: pointer; color: #35557a; font-size: 12px; }
        details .ids { margin: 6px 0; font-size: 12px; overflow-wrap: anywhere; }
        ol.timeline { margin: 4px 0 8px; padding-left: 20px; font-size: 12px; }
        ol.timeline li { margin: 2px 0; }
        .entry { display: inline-block; min-width: 5.5em; font-weight: bold; color: #35557a; }
        .when { color: #555; margin-right: 6px; white-space: nowrap; }
        .detail { color: #444; }
        @media print {
          html { background: none; }
          body { max-width: none; margin: 0; padding: 0; box-shadow: none; font-size: 10pt; }
          table { font-size: 8.5pt; }
          thead { display: table-header-group; }
          tr, .verdict, dl { break-inside: avoid; }
          h2 { break-after: avoid; }
          details summary { color: #555; }
          tbody.attention { background: #fdf1e6; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
          .verdict { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
        }
        """
}
