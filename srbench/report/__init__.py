"""What results show: tables, leaderboards, plots, trade-offs and the regression gate."""
