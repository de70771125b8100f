-- Creates without a stall every few thousand (issue 12: p99 at half the maximum). A GIN
-- index with fastupdate (the default) appends new entries to a pending list, and the
-- insert that finds the list over gin_pending_list_limit (4 MB by default) moves the
-- whole list into the index itself before it answers: with the two trigram indexes of
-- patients that was one create in a few thousand taking 48-71 ms. With a 256 kB list the
-- move happens sixteen times as often and each is that much shorter (slowest create of a
-- 5 s run at half the maximum 13-24 ms), while inserts keep the list's batching (turning
-- fastupdate off bounded the tail too, but lowered the create rate).
ALTER INDEX patients_search_trgm SET (gin_pending_list_limit = 256);
ALTER INDEX patients_territories_trgm SET (gin_pending_list_limit = 256);
