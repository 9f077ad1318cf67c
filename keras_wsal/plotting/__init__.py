"""Pictures of what a weakly supervised model learned: `plot_video` draws one video's timeline."""

from keras_wsal.plotting.timeline import PLOT_FORMATS, plot_video

__all__ = ["PLOT_FORMATS", "plot_video"]
