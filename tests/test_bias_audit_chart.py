"""The bias audit chart: the edited attribute is the highlighted bar, each bar carries its own attribute's
real-data correlation, and the largest other shifts are the ones shown."""

import matplotlib.colors as mcolors
import matplotlib.pyplot as plt

from gan_experiments.tools.bias_audit import shift_chart


def entries() -> dict:
    changes = {"Smiling": 0.4, "Mouth_Slightly_Open": 0.3, "Male": -0.25, "Young": 0.1, "Bald": 0.01}
    correlations = {"Smiling": 1.0, "Mouth_Slightly_Open": 0.54, "Male": -0.13, "Young": 0.06, "Bald": -0.02}
    return {n: {"mean_change": c, "std_change": 0.05, "real_correlation": correlations[n]} for n, c in changes.items()}


def test_the_target_alone_is_highlighted_and_every_bar_has_its_own_correlation():
    fig = shift_chart(entries(), "Smiling", top=3)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert sorted(labels) == ["Male", "Mouth_Slightly_Open", "Smiling", "Young"]  # Bald's 0.01 is cut
    colours = {label: mcolors.to_hex(bar.get_facecolor()) for label, bar in zip(labels, ax.patches, strict=True)}
    assert colours["Smiling"] == mcolors.to_hex("C1")
    assert {colours[n] for n in labels if n != "Smiling"} == {mcolors.to_hex("C0")}
    widths = {label: bar.get_width() for label, bar in zip(labels, ax.patches, strict=True)}
    assert widths == {n: entries()[n]["mean_change"] for n in labels}
    written = {round(text.xy[1]): text.get_text() for text in ax.texts if text.get_text() != "r"}
    assert {labels[y]: r for y, r in written.items()} == {"Smiling": "+1.00", "Mouth_Slightly_Open": "+0.54",
                                                           "Male": "-0.13", "Young": "+0.06"}
    plt.close(fig)
