"""Pictures and tables for the book: analysis figures, relevance maps, molecule views, learning curves,
Markdown tables."""

from xailib.viz.figures import decay_plot, pair_heatmap, pair_matrix, shares_bars
from xailib.viz.known_answers import decay_panel, pair_scatter
from xailib.viz.molecules import draw_static, view3d
from xailib.viz.relevance import project_2d, relevance_html, relevance_map, relevance_view
from xailib.viz.tables import markdown_table
from xailib.viz.training import learning_curves

__all__ = ["pair_matrix", "pair_heatmap", "decay_plot", "shares_bars", "draw_static", "view3d", "project_2d",
           "relevance_map", "relevance_view", "relevance_html", "markdown_table", "learning_curves", "pair_scatter",
           "decay_panel"]
