import math

from django import template

register = template.Library()

# The attendance chart's geometry, in the SVG's own units (it scales to the page's width).
GROUP = 36
BAR = 13
LEFT, RIGHT, TOP, BOTTOM = 40, 8, 12, 30
PLOT = 160
MAX_LABELS = 12


@register.simple_tag(takes_context=True)
def events_in_menu(context):
    """Whether the main menu shows events: to every signed-in member (they see their chapters')."""
    user = context.get("user")
    return user is not None and user.is_authenticated


def _nice_ceiling(value):
    """The smallest of 1, 2, 5, 10, 20, 50… at or above `value`: the top of the chart's axis."""
    power = 10 ** max(0, math.floor(math.log10(max(value, 1))))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


@register.inclusion_tag("events/app/chart.html")
def attendance_chart(series, monthly):
    """A bar chart of answers against attendance per week (or month), drawn on the server as
    inline SVG: no script, no library; the page gives the same figures as a table."""
    top_value = _nice_ceiling(max([row["rsvps"] for row in series] + [row["attended"] for row in series] + [1]))
    ticks = [value for value in (0, top_value // 2, top_value) if value * 2 % top_value == 0 or value == top_value]
    label_every = max(1, math.ceil(len(series) / MAX_LABELS))
    bars = []
    for index, row in enumerate(series):
        x = LEFT + index * GROUP + (GROUP - 2 * BAR) / 2
        heights = [round(row[key] / top_value * PLOT, 1) for key in ("rsvps", "attended")]
        bars.append(
            {
                "row": row,
                "rsvps": {"x": x, "y": TOP + PLOT - heights[0], "height": heights[0]},
                "attended": {"x": x + BAR, "y": TOP + PLOT - heights[1], "height": heights[1]},
                "label_x": LEFT + index * GROUP + GROUP / 2,
                "labelled": index % label_every == 0,
            }
        )
    width = LEFT + RIGHT + GROUP * max(len(series), 1)
    return {
        "bars": bars,
        "bar_width": BAR,
        "monthly": monthly,
        "width": width,
        "height": TOP + PLOT + BOTTOM,
        "left": LEFT,
        "right_edge": width - RIGHT,
        "baseline": TOP + PLOT,
        "label_y": TOP + PLOT + 18,
        "ticks": [
            {"value": value, "y": round(TOP + PLOT - value / top_value * PLOT, 1)} for value in sorted(set(ticks))
        ],
    }
