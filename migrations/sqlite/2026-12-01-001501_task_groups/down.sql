DROP TABLE task_group_items;
DROP TABLE task_groups;
