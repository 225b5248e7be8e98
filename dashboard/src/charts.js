// Chart.js, registered with only the parts the analytics use (tree-shaken
// by the bundler).
import {
  Chart, BarController, BarElement, LineController, LineElement, PointElement, DoughnutController, ArcElement,
  CategoryScale, LinearScale, Legend, Title, Tooltip,
} from 'chart.js';

Chart.register(BarController, BarElement, LineController, LineElement, PointElement, DoughnutController, ArcElement,
  CategoryScale, LinearScale, Legend, Title, Tooltip);

const COLOURS = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2'];

export function chart(canvas, type, labels, datasets, subtitle) {
  // The sum of the data, for tests and screen readers' sake of a summary.
  canvas.dataset.total = String(datasets.flatMap((d) => d.data).reduce((a, b) => a + b, 0));
  return new Chart(canvas, {
    type,
    data: {
      labels,
      datasets: datasets.map((d, i) => ({
        ...d,
        backgroundColor: type === 'doughnut' ? COLOURS : COLOURS[i],
        borderColor: type === 'line' ? COLOURS[i] : undefined,
      })),
    },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      plugins: { legend: { display: datasets.length > 1 || type === 'doughnut' }, title: { display: !!subtitle, text: subtitle } },
      scales: type === 'doughnut' ? {} : { y: { beginAtZero: true, ticks: { precision: 0 } } },
    },
  });
}
