package report

import (
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
)

// htmlFigure is a PNG for the HTML page, embedded as a data URI.
type htmlFigure struct {
	Title, File string
	PNG         []byte
}

// Src is the image as a data URI, so the page needs no other file.
func (f htmlFigure) Src() template.URL {
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(f.PNG))
}

type htmlCell struct {
	Text string
	Num  bool
}

var reportPage = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}: longtail report</title>
<link rel="icon" href="data:,">
<style>
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1500px; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 1em 0; font-variant-numeric: tabular-nums; }
th, td { padding: 0.3em 0.7em; border-bottom: 1px solid #e4e4e4; text-align: left; }
th { background: #f4f4f4; font-weight: 600; }
td.num, th.num { text-align: right; }
td.num { white-space: nowrap; }
.headline { font-weight: 600; }
.provenance { color: #333; max-width: 70em; padding-left: 1.2em; } .provenance code { font-size: 0.9em; background: #f4f4f4; padding: 0 0.2em; }
.notes { color: #555; max-width: 70em; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<ul class="provenance">
{{range .Provenance}}<li><b>{{.Label}}</b>: {{if .Code}}{{range $i, $c := .Code}}{{if $i}}, {{end}}<code>{{$c}}</code>{{end}}{{else}}{{.Text}}{{end}}</li>
{{end}}</ul>
<p class="notes">{{.Notes}}</p>
<p class="headline">{{.Headline}}</p>
<table>
<thead><tr>{{range .Head}}<th class="{{if .Num}}num{{end}}">{{.Text}}</th>{{end}}</tr></thead>
<tbody>
{{range .Rows}}<tr>{{range .}}<td class="{{if .Num}}num{{end}}">{{.Text}}</td>{{end}}</tr>
{{end}}</tbody>
</table>
{{if .Missing}}<p>Not finished ({{len .Missing}}): {{range $i, $m := .Missing}}{{if $i}}, {{end}}{{$m}}{{end}}</p>{{end}}
{{if .Stale}}<p>{{.Stale}}</p>{{end}}
{{if .ClassHead}}<h2>Per class</h2>
<p class="notes">{{.ClassNote}}</p>
<table>
<thead><tr>{{range .ClassHead}}<th class="{{if .Num}}num{{end}}">{{.Text}}</th>{{end}}</tr></thead>
<tbody>
{{range .ClassRows}}<tr>{{range .}}<td class="{{if .Num}}num{{end}}">{{.Text}}</td>{{end}}</tr>
{{end}}</tbody>
</table>
{{end}}
<h2>Figures</h2>
{{range .Figures}}<figure><img src="{{.Src}}" alt="{{.Title}}"><figcaption>{{.Title}} ({{.File}})</figcaption></figure>
{{end}}
<h2>Learning curves</h2>
{{range .Curves}}<figure><img src="{{.Src}}" alt="{{.Title}}"><figcaption>{{.Title}} ({{.File}})</figcaption></figure>
{{end}}
<h2>Runs</h2>
<table>
<thead><tr><th>run</th><th>method</th><th class="num">IF</th><th class="num">seed</th><th class="num">epochs</th><th class="num">top-1 (%)</th><th class="num">SD (%)</th><th class="num">final loss</th></tr></thead>
<tbody>
{{range .Runs}}<tr><td>{{.Name}}</td><td>{{.Method}}</td><td class="num">{{.IF}}</td><td class="num">{{.Seed}}</td><td class="num">{{.Epochs}}</td><td class="num">{{.Top1}}</td><td class="num">{{.SD}}</td><td class="num">{{.Loss}}</td></tr>
{{end}}</tbody>
</table>
</body>
</html>
`))

// mainFigures is the number of figures before the learning curves in
// Write's list: Figure 2, Figure 3, the spread over replicates and the
// reliability diagrams.
const mainFigures = 4

// WriteHTML writes one self-contained page: the table, the figures and each
// run's learning curves, images embedded. figures are the mainFigures, then
// the learning curves.
func (rep *Report) WriteHTML(w io.Writer, figures []htmlFigure) error {
	head, rows := rep.tableRows()
	hc, rc := htmlTable(head, rows, map[string]bool{"method": true, "setting": true})
	classHead, classRows := rep.perClassTable()
	ch, cr := htmlTable(classHead, classRows, map[string]bool{"name": true})
	type runRow struct {
		Name, Method, IF, Top1, SD, Loss string
		Seed                             int64
		Epochs                           int
	}
	var runs []runRow
	for _, r := range rep.Runs {
		loss := "–"
		if n := len(r.Records); n > 0 {
			loss = fmt.Sprintf("%.4f", r.Records[n-1].Loss)
		}
		runs = append(runs, runRow{Name: r.Name, Method: r.Method, IF: formatFloat(r.Imbalance), Seed: r.Seed, Epochs: r.Final.Epoch,
			Top1: fmt.Sprintf("%.2f", 100*r.Final.Top1), SD: fmt.Sprintf("%.2f", 100*r.Final.SD), Loss: loss})
	}
	split := min(mainFigures, len(figures))
	return reportPage.Execute(w, map[string]any{
		"Title": rep.Title, "Provenance": rep.Provenance.lines(rep.Methods), "Notes": rep.Notes(), "Headline": rep.Headline(), "Head": hc, "Rows": rc, "Missing": rep.Missing,
		"Stale":   rep.staleNote(),
		"Figures": figures[:split], "Curves": figures[split:], "Runs": runs, "ClassHead": ch, "ClassRows": cr, "ClassNote": perClassNote,
	})
}

// htmlTable turns a table's cells into HTML cells; the columns named in
// text are left-aligned, the others are numbers.
func htmlTable(head []string, rows [][]string, text map[string]bool) (hc []htmlCell, rc [][]htmlCell) {
	for _, h := range head {
		hc = append(hc, htmlCell{h, !text[h]})
	}
	for _, r := range rows {
		var cells []htmlCell
		for i, c := range r {
			cells = append(cells, htmlCell{c, hc[i].Num})
		}
		rc = append(rc, cells)
	}
	return hc, rc
}
