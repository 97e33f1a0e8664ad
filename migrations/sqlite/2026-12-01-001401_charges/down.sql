DROP TABLE user_budgets;
DROP TABLE generation_charges;
