package mapview

// pageHTML is the whole page: inline style, server-drawn SVG, a plain form.
const pageHTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>healthcode map</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 16px; color: #222; }
h1 { font-size: 18px; margin: 0 0 8px; }
.row { display: flex; gap: 24px; flex-wrap: wrap; align-items: flex-start; }
figure { margin: 0; } figcaption { color: #555; margin-top: 4px; }
.cell { stroke: #fff; stroke-width: 0.6; } .cell.hit { stroke: #555; stroke-width: 0.8; }
.legend span { display: inline-block; width: 12px; height: 12px; margin: 0 4px 0 10px; vertical-align: middle; }
form { margin: 0 0 12px; } .empty { color: #777; }
</style></head>
<body>
<h1>Health codes: {{.What}} per H3 cell on {{.DayValue}}</h1>
<form method="get" action="/map">
  <label>Day <input type="date" name="day" value="{{.DayValue}}"{{if not .Last.IsZero}} min="{{.FirstValue}}" max="{{.LastValue}}"{{end}}></label>
  <label>Show <select name="by">
    <option value="exposures"{{if eq .Req.By "exposures"}} selected{{end}}>exposures</option>
    <option value="colour"{{if eq .Req.By "colour"}} selected{{end}}>persons of a colour</option>
  </select></label>
  <label>Colour <input name="colour" value="{{.Req.Colour}}" size="8"></label>
  <label>Resolution <input type="number" name="res" min="0" max="15" value="{{.Req.Res}}"></label>
  <button type="submit">Show</button>
</form>
{{if .Map}}
<div class="row">
<figure>{{.Map.SVG}}
<figcaption id="map-caption" data-cells="{{.Map.Cells}}" data-hit="{{.Map.Hit}}" data-total="{{.Map.Total}}">
{{.Map.Cells}} cells where people stayed, {{.Map.Hit}} with {{.What}} ({{.Map.Total}} in all){{if .Map.Dropped}}; {{.Map.Dropped}} more cells not drawn{{end}}{{if .Map.Outside}}; {{.Map.Outside}} cells far away not drawn{{end}}.
<div class="legend">{{range .Map.Legend}}<span style="background: {{.Fill}}"></span>{{.Label}}{{end}}</div>
{{if .Map.Away}}<table id="away"><caption>Far from the map, with {{.What}}</caption><tr><th>cell</th><th>centre</th><th>{{.What}}</th></tr>
{{range .Map.Away}}<tr class="away" data-cell="{{.Cell}}" data-value="{{.Value}}"><td>{{.Cell}}</td><td>{{.At}}</td><td>{{.Value}}</td></tr>
{{end}}</table>{{end}}
</figcaption></figure>
<figure>{{.Chart.SVG}}<figcaption>Persons of each colour at the end of each day (UTC), from colour_transitions_daily.</figcaption></figure>
</div>
{{else}}<p class="empty">No data in ClickHouse yet.</p>{{end}}
</body></html>
`
