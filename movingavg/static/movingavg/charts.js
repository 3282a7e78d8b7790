/* Draws every element with a data-chart attribute: the id of a json_script holding
   {x, values, value_texts, averages, average_texts, average_name} (movingavg/charts.py). */
(function () {
  "use strict";

  function traces(data) {
    var shown = [{
      x: data.x, y: data.values, text: data.value_texts, name: "value",
      type: "scatter", mode: "lines+markers", line: {color: "#2b6cb0", width: 2},
      hovertemplate: "%{x|%Y-%m-%d %H:%M}<br>%{text}<extra>value</extra>"
    }];
    if (data.averages.some(function (v) { return v !== null; })) {
      shown.push({
        x: data.x, y: data.averages, text: data.average_texts, name: data.average_name,
        type: "scatter", mode: "lines", line: {color: "#dd6b20", width: 2, dash: "dash"},
        hovertemplate: "%{x|%Y-%m-%d %H:%M}<br>%{text}<extra>" + data.average_name + "</extra>"
      });
    }
    return shown;
  }

  function draw(element) {
    var data = JSON.parse(document.getElementById(element.dataset.chart).textContent);
    var compact = element.dataset.compact === "true";
    var layout = {
      width: element.clientWidth || undefined,
      height: element.clientHeight || undefined,
      margin: compact ? {l: 40, r: 10, t: 10, b: 30} : {l: 60, r: 20, t: 20, b: 50},
      xaxis: {type: "date", title: compact ? undefined : {text: element.dataset.zone || ""}},
      yaxis: {tickformat: ",", rangemode: "tozero", automargin: true},
      legend: {orientation: "h", y: -0.2},
      showlegend: !compact,
      hovermode: "closest",
      separators: ".,"
    };
    Plotly.newPlot(element, traces(data), layout, {displaylogo: false, responsive: true,
      staticPlot: compact});
  }

  document.querySelectorAll("[data-chart]").forEach(draw);
})();
