"""What a run folder holds and everything computed from it: runs.py writes and reads run
folders; metrics.py, stats.py and paper.py are the numbers; tables.py, figures.py,
cam_section.py and document.py build the report of a sweep."""
